"""The request entity is plain data; a trace's request specification is checked before a run."""
import pytest

from adrs_bench.serving import RequestSpec
from adrs_bench.serving.request import QUEUED, Request


def test_request_is_plain_data_without_behaviour():
    methods = sorted(name for name, value in vars(Request).items()
                     if callable(value) and not name.startswith("__"))
    assert methods == []  # the replica holding it owns the rules that change it
    request = Request(3, 1.5, 100, 20)
    assert (request.state, request.generated, request.prefill_tokens, request.replica) == (QUEUED, 0, 100, None)
    assert repr(request) == "Request(id=3, state=queued, prompt=100, decode=20, generated=0@step0, restarts=0)"


@pytest.mark.parametrize("spec, message", [
    (RequestSpec(-1.0, 10, 10), "request 4: arrival_time must be a finite number >= 0, got -1.0"),
    (RequestSpec(float("nan"), 10, 10), "request 4: arrival_time must be a finite number >= 0, got nan"),
    (RequestSpec(0.0, 0, 10), "request 4: prompt_tokens must be an int >= 1, got 0"),
    (RequestSpec(0.0, 10, 2.0), "request 4: decode_tokens must be an int >= 1, got 2.0"),
])
def test_request_spec_check_names_the_request(spec, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        spec.check(4)
