"""Old argument spellings: the same result as the new word, with a DeprecationWarning."""

import pytest

from snninit import theory as T

CASES = [
    (T.stability_slope, (0.9,)),
    (T.depth_scale, (0.9,)),
    (T.bottleneck_depth, (0.6,)),
    (T.critical_threshold, ()),
]


@pytest.mark.parametrize("fn, args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_init_is_the_old_spelling_of_rule(fn, args):
    new = fn(*args, rule="kaiming")
    with pytest.warns(DeprecationWarning, match="'init' is now called 'rule'"):
        old = fn(*args, init="kaiming")
    assert old == new
    assert fn(*args, rule="micheli") != new  # the argument is used, not ignored


def test_both_spellings_is_an_error():
    with pytest.raises(TypeError, match="both 'rule' and its old spelling 'init'"):
        T.stability_slope(0.9, rule="kaiming", init="kaiming")
