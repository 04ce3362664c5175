"""The ``ps`` and ``images`` tables, pinned to docker's layout."""

import pytest

from pouch.cli.gotemplate import TemplateError, render
from pouch.cli.listing import (
    format_containers,
    format_images,
    format_ports,
    parse_filters,
    split_reference,
)

NOW = 1_700_000_000.0
RUNNING = {
    "Id": "3f2a" * 16,
    "Image": "busybox",
    "Command": "sleep 3600 && echo finished",
    "Created": NOW - 125,
    "Status": "Up 3 seconds",
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
    "Names": ["/web"],
}
EXITED = {
    "Id": "b" * 64,
    "Image": "sha256:" + "c" * 64,
    "Command": "true",
    "Created": NOW - 5,
    "Status": "Exited (0) 5 seconds ago",
    "Ports": [],
    "Names": ["/job", "/web/job"],
}


def test_ps_table_matches_docker() -> None:
    assert format_containers([RUNNING, EXITED], now=NOW).splitlines() == [
        "CONTAINER ID   IMAGE          COMMAND                  CREATED         "
        "STATUS                     PORTS                  NAMES",
        '3f2a3f2a3f2a   busybox        "sleep 3600 && echo …"   2 minutes ago   '
        "Up 3 seconds               0.0.0.0:8080->80/tcp   web",
        'bbbbbbbbbbbb   cccccccccccc   "true"                   5 seconds ago   '
        "Exited (0) 5 seconds ago                          job",
    ]


def test_ps_no_trunc_shows_full_ids_commands_and_links() -> None:
    line = format_containers([EXITED], trunc=False, now=NOW).splitlines()[1]
    assert line.startswith("b" * 64 + "   sha256:" + "c" * 64)
    assert line.endswith("job,web/job")
    full = format_containers([RUNNING], trunc=False, now=NOW).splitlines()[1]
    assert '"sleep 3600 && echo finished"' in full


def test_ps_quiet_prints_short_ids_only() -> None:
    assert (
        format_containers([RUNNING, EXITED], quiet=True) == "3f2a3f2a3f2a\n" + "b" * 12
    )


def test_ps_with_nothing_prints_the_header() -> None:
    assert format_containers([], now=NOW).split() == [
        "CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"
    ]  # fmt: skip


def test_ports_published_and_exposed() -> None:
    ports = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 53, "Type": "udp"},
    ]
    assert format_ports(ports) == "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 53/udp"


def test_filters_become_the_api_map() -> None:
    assert parse_filters(["status=exited", "name=a", "name=b"]) == {
        "status": ["exited"],
        "name": ["a", "b"],
    }
    with pytest.raises(ValueError, match="expected key=value"):
        parse_filters(["status"])


def test_images_table_one_row_per_tag_newest_first() -> None:
    images = [
        {
            "Id": "sha256:" + "1" * 64,
            "RepoTags": ["busybox:latest", "localhost:5000/bb:v1"],
            "Created": NOW - 3 * 86400,
            "Size": 4_261_000,
        },
        {
            "Id": "sha256:" + "2" * 64,
            "RepoTags": [],
            "Created": NOW - 60,
            "Size": 1_200_000_000,
        },
    ]
    assert format_images(images, now=NOW).splitlines() == [
        "REPOSITORY          TAG      IMAGE ID       CREATED              SIZE",
        "<none>              <none>   222222222222   About a minute ago   1.2GB",
        "busybox             latest   111111111111   3 days ago           4.26MB",
        "localhost:5000/bb   v1       111111111111   3 days ago           4.26MB",
    ]
    assert format_images(images, quiet=True, now=NOW).splitlines() == [
        "2" * 12,
        "1" * 12,
        "1" * 12,
    ]


def test_split_reference_keeps_registry_ports() -> None:
    assert split_reference("localhost:5000/bb") == ("localhost:5000/bb", "<none>")
    assert split_reference("a/b:c") == ("a/b", "c")


DOC = {
    "Id": "abc",
    "State": {"Pid": 42, "Running": True},
    "Config": {"Labels": {"a.b": "x"}, "Env": ["A=1", "B=2"]},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.State.Pid}}", "42"),
        ("pid={{ .State.Pid }} running={{.State.Running}}", "pid=42 running=true"),
        ("{{json .State}}", '{"Pid": 42, "Running": true}'),
        ('{{index .Config.Labels "a.b"}}', "x"),
        ("{{.Config.Env}}", "[A=1 B=2]"),
        ("{{.State}}", "map[Pid:42 Running:true]"),
        ("{{.Nope}}", "<no value>"),
    ],
)
def test_template_subset(template: str, expected: str) -> None:
    assert render(template, DOC) == expected


def test_template_errors_name_the_problem() -> None:
    with pytest.raises(TemplateError, match='function "nope" not defined'):
        render("{{nope .Id}}", DOC)
    with pytest.raises(TemplateError, match="can't evaluate field X"):
        render("{{.Id.X}}", DOC)
