from pouch.hookplugins import Hook, order_hooks


def net() -> Hook:
    return Hook("/usr/bin/pouchd", ["pouchd", "libnetwork-setkey", "c", "n"])


def plugin(priority: int, tag: str) -> Hook:
    return Hook("/bin/true", ["true", tag], priority=priority)


def test_plugin_hooks_sort_around_the_network_hook() -> None:
    hooks = [plugin(-2, "a"), plugin(5, "b"), plugin(0, "c"), plugin(1, "d"),
             plugin(-2, "e")]  # fmt: skip
    ordered = order_hooks([net()], hooks)
    assert [h.args[-1] for h in ordered] == ["b", "d", "n", "c", "a", "e"]


def test_daemon_hooks_take_zero_then_negative_priorities_in_order() -> None:
    second = Hook("/bin/second", ["second"])
    ordered = order_hooks([net(), second], [plugin(-1, "p"), plugin(0, "z")])
    assert [h.args[-1] for h in ordered] == ["n", "z", "second", "p"]
    assert [h.priority for h in ordered] == [0, 0, -1, -1]


def test_no_plugin_hooks_leaves_the_daemon_hooks() -> None:
    assert [h.path for h in order_hooks([net()], [])] == ["/usr/bin/pouchd"]


def test_to_oci_has_path_and_args() -> None:
    assert plugin(3, "x").to_oci() == {"path": "/bin/true", "args": ["true", "x"]}
