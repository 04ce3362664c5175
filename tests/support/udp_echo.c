/* A UDP echo server for the port tests: answers each datagram with "echo:" and
   the datagram, on the port given as its argument. Built static, so that it runs
   in a busybox container, whose busybox has no UDP server. */

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    char buf[2048] = "echo:";
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return 1;
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(fd, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&peer, &len);
        if (n >= 0) sendto(fd, buf, n + 5, 0, (struct sockaddr *)&peer, len);
    }
}
