"""The comparison itself: normalisation keeps relations and drops absolute values."""

from traces import Session, Time, Zxid, diff, normalise


def test_zxids_times_and_sessions_become_ranks_and_names():
    a = [("x", {"czxid": Zxid(0x500000007), "mzxid": Zxid(0x500000009), "o": Session(77)}),
         ("t", [Time(1000), Time(1000), Time(2000)]), ("s", Session(5))]
    b = [("x", {"czxid": Zxid(3), "mzxid": Zxid(4), "o": Session(1)}),
         ("t", [Time(7), Time(7), Time(9)]), ("s", Session(2))]
    assert normalise(a) == normalise(b)
    assert normalise(a)[0][1] == {"czxid": "z0", "mzxid": "z1", "o": "s1"}


def test_a_changed_relation_or_value_is_a_diff():
    a = normalise([("x", [Zxid(1), Zxid(2)]), ("v", 1)])
    b = normalise([("x", [Zxid(2), Zxid(1)]), ("v", 1)])
    assert "-x: ['z0', 'z1']" in diff(a, b)
    assert diff(a, normalise([("x", [Zxid(5), Zxid(9)]), ("v", 1)])) == ""
    assert diff(a, normalise([("x", [Zxid(5), Zxid(9)]), ("v", 2)])) != ""
