import pytest

from pouch.cli.units import binary_size, human_duration, human_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("64m", 64 * 1024**2),
        ("64M", 64 * 1024**2),
        ("64mb", 64 * 1024**2),
        ("1g", 1024**3),
        ("1GiB", 1024**3),
        ("1.5g", int(1.5 * 1024**3)),
        ("512k", 512 * 1024),
        ("10 b", 10),
    ],
)
def test_parse_size_reads_docker_memory_syntax(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "m", "-1m", "12x", "1.2.3g", "64mm"])
def test_parse_size_rejects_malformed_values(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, "0B"), (999, "999B"), (4_261_000, "4.26MB"), (77_900_000, "77.9MB")],
)
def test_human_size_is_decimal_with_three_digits(size: int, expected: str) -> None:
    assert human_size(size) == expected


def test_binary_size_is_binary_with_four_digits() -> None:
    assert binary_size(16_000_000_000) == "14.9GiB"
    assert binary_size(2 * 1024**3) == "2GiB"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (3, "3 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (15 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration_words_like_docker(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected
