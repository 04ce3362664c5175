from pouch.client.streams import (
    STDERR,
    STDOUT,
    FrameDemuxer,
    demux,
    encode_frame,
    iter_json_messages,
)


def test_frame_header_is_stream_three_zeros_and_big_endian_length() -> None:
    assert encode_frame(STDERR, b"hi") == b"\x02\x00\x00\x00\x00\x00\x00\x02hi"


def test_demux_reassembles_frames_split_across_chunks() -> None:
    body = encode_frame(STDOUT, b"out\n") + encode_frame(STDERR, b"err\n" * 100)
    chunks = [body[i : i + 3] for i in range(0, len(body), 3)]
    assert list(demux(chunks)) == [(STDOUT, b"out\n"), (STDERR, b"err\n" * 100)]


def test_demux_yields_several_frames_from_one_chunk() -> None:
    body = b"".join(encode_frame(STDOUT, bytes([n])) for n in range(5))
    assert [payload for _, payload in demux([body])] == [bytes([n]) for n in range(5)]


def test_demuxer_keeps_an_unfinished_frame_pending() -> None:
    demuxer = FrameDemuxer()
    frame = encode_frame(STDOUT, b"abcdef")
    assert demuxer.feed(frame[:10]) == []
    assert demuxer.pending == 10
    assert demuxer.feed(frame[10:]) == [(STDOUT, b"abcdef")]
    assert demuxer.pending == 0


def test_empty_frames_pass_through() -> None:
    assert list(demux([encode_frame(STDOUT, b"")])) == [(STDOUT, b"")]


def test_json_messages_split_anywhere_are_decoded_in_order() -> None:
    body = b'{"stream": "Loaded image: busybox:latest\\n"}\r\n{"status": "ok"}'
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
    assert list(iter_json_messages(chunks)) == [
        {"stream": "Loaded image: busybox:latest\n"},
        {"status": "ok"},
    ]
