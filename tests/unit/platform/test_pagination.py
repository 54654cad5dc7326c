import pytest

from agora.platform.http.pagination import CursorCodec
from agora.platform.http.problems import BadRequest

codec = CursorCodec(b"k" * 32, purpose="products")


def test_round_trip() -> None:
    position = {"name": "Lamp", "id": "0b9d", "n": 3}
    assert codec.decode(codec.encode(position)) == position


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),
        lambda c: "x" + c,
        lambda c: c.split(".")[0],
        lambda c: "not-a-cursor",
        lambda c: "",
        lambda c: "....",
    ],
)
def test_tampered_cursor_is_a_400_naming_the_field(tamper) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequest) as caught:
        codec.decode(tamper(codec.encode({"id": "a"})))
    assert caught.value.field == "cursor"


def test_a_cursor_from_another_list_is_refused() -> None:
    other = CursorCodec(b"k" * 32, purpose="orders")
    with pytest.raises(BadRequest):
        codec.decode(other.encode({"id": "a"}))
