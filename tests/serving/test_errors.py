"""The simulator's errors are its own: one line naming the simulated time, and no tie to the harness."""
from adrs_bench.errors import AdrsError
from adrs_bench.serving import RequestTooLarge, RouterError, ServingError, Stalled


def test_serving_errors_are_not_harness_errors():
    assert ServingError.__mro__[1] is Exception
    for error in (RouterError("bad", 1.0, 2), Stalled(1.0, 3), RequestTooLarge(1.0, 4, 0, 9, 8)):
        assert isinstance(error, ServingError) and not isinstance(error, AdrsError)
        assert "\n" not in str(error) and "t=1.000000 s" in str(error)


def test_messages():
    assert str(RouterError("returned int", 2.5, 7)) == "router call 7 at t=2.500000 s: returned int"
    assert str(Stalled(3.0, 2)).startswith("stalled at t=3.000000 s: 2 request(s) held in the global queue")
    assert str(RequestTooLarge(0.0, 4, 1, 9, 8)).startswith(
        "at t=0.000000 s request 4 needs 9 KV blocks but replica 1 can give at most 8")
