import csv
import math
from pathlib import Path

import pytest

from adrs_bench.serving import A10Llama3Profile, TableProfile, solo_latency

PROFILE = A10Llama3Profile()
# Shared reference data lives beside the repository (../shared), never inside it.
VIDUR_TABLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "a10_llama3_8b_linear_step_ms.csv"


def test_linear_ops_follow_vidurs_a10_fit():
    assert PROFILE.linear_time(1) == 0.032 and PROFILE.linear_time(32) == 0.032
    assert PROFILE.linear_time(1024) == pytest.approx(0.0223 + 0.2186e-3 * 1024)
    assert PROFILE.linear_time(4096) == pytest.approx(0.9177, abs=1e-4)  # vidur: 913 ms


def test_decode_attention_reads_the_kv_cache_at_the_achieved_bandwidth():
    # 128 requests x 280 tokens = 35,840 tokens (a full 2240-block cache): 35,840 x 131,072 bytes = 4.70 GB,
    # read at 0.75 x 600 GB/s = 450 GB/s: 10.44 ms on top of the linear ops (50.28 ms at 128 tokens).
    step = PROFILE.decode_time([280] * 128)
    assert step == pytest.approx(0.0223 + 0.0002186 * 128 + 35840 * 131072 / 450e9, rel=1e-12)
    assert step - PROFILE.linear_time(128) == pytest.approx(0.010439, abs=1e-6)
    assert step == pytest.approx(0.060720, abs=1e-6)


def test_prefill_attention_is_its_causal_flops_at_the_achieved_rate():
    # 2 x L^2 x 4096 x 32 FLOPs (QK^T and AV, causal half) at 0.5 x 125 = 62.5 TFLOP/s: one prompt of 4096
    # tokens costs 2 x 4096^2 x 4096 x 32 = 4.40e12 FLOPs = 70.4 ms on top of 917.7 ms of linear ops.
    step = PROFILE.prefill_time([4096])
    assert step == pytest.approx(0.0223 + 0.0002186 * 4096 + 2 * 4096**2 * 4096 * 32 / 62.5e12, rel=1e-12)
    assert step - PROFILE.linear_time(4096) == pytest.approx(0.070369, abs=1e-6)
    # attention is per request: two prompts of 2048 cost half of one of 4096
    split = PROFILE.prefill_time([2048, 2048]) - PROFILE.linear_time(4096)
    assert split == pytest.approx((step - PROFILE.linear_time(4096)) / 2)


def test_efficiencies_are_parameters_applied_to_the_documented_peaks():
    assert (PROFILE.memory_bandwidth_bytes_per_s, PROFILE.memory_bandwidth_efficiency) == (600e9, 0.75)
    assert (PROFILE.peak_flops, PROFILE.attention_flops_efficiency) == (125e12, 0.5)
    peak = A10Llama3Profile(memory_bandwidth_efficiency=1.0, attention_flops_efficiency=1.0)
    decode_attention = [p.decode_time_of(10, 10000) - p.linear_time(10) for p in (PROFILE, peak)]
    assert decode_attention[0] == pytest.approx(decode_attention[1] / 0.75)
    prefill_attention = [p.prefill_time([3000]) - p.linear_time(3000) for p in (PROFILE, peak)]
    assert prefill_attention[0] == pytest.approx(2 * prefill_attention[1])
    assert peak.solo_latency(500, 300) < PROFILE.solo_latency(500, 300)


@pytest.mark.parametrize("field, value", [("memory_bandwidth_efficiency", 0.0),
                                          ("attention_flops_efficiency", 1.5),
                                          ("memory_bandwidth_efficiency", True)])
def test_an_efficiency_outside_0_1_is_refused(field, value):
    with pytest.raises(ValueError, match=rf"^A10Llama3Profile\.{field} must be a number in \(0, 1\], got "
                                         rf"{value!r}; it is the fraction of the hardware peak"):
        A10Llama3Profile(**{field: value})


def test_batched_decode_helpers_agree_bit_for_bit():
    contexts = [100, 2000, 37]
    assert PROFILE.decode_time(contexts) == PROFILE.decode_time_of(3, 2137)
    runs = PROFILE.decode_times(3, 2137, 50)
    assert runs == [PROFILE.decode_time_of(3, 2137 + 3 * j) for j in range(50)]


def test_solo_latency_closed_form_matches_the_step_sum():
    class Plain:
        prefill_time = PROFILE.prefill_time
        decode_time = PROFILE.decode_time

    for prompt, decode in [(43, 1), (76, 243), (4134, 4096)]:
        assert solo_latency(PROFILE, prompt, decode) == pytest.approx(solo_latency(Plain(), prompt, decode),
                                                                        rel=1e-12)
    assert solo_latency(PROFILE, 100, 1) == PROFILE.prefill_time([100])


def test_table_profile_forms():
    assert TableProfile(0.5).prefill_time([10, 20]) == 0.5
    table = TableProfile({30: 2.0, 2: 0.25})
    assert table.prefill_time([10, 20]) == 2.0 and table.decode_time([5, 9]) == 0.25
    called = TableProfile(lambda phase, tokens: {"prefill": 1.0, "decode": 0.1}[phase] * tokens)
    assert called.prefill_time([3, 4]) == 7.0 and called.decode_time_of(4, 999) == pytest.approx(0.4)


def test_a_profile_returning_a_bad_time_is_refused():
    from .helpers import run
    with pytest.raises(ValueError, match=r"profile prefill_time returned 0\.0; expected a finite number"):
        run([(0, 16, 2)], True, profile=TableProfile(0.0))


@pytest.mark.slow
@pytest.mark.skipif(not VIDUR_TABLE.exists(), reason=f"vidur's table is absent: expected {VIDUR_TABLE} (../shared beside the repository)")
def test_linear_fit_against_vidurs_predicted_table():
    with VIDUR_TABLE.open() as handle:
        rows = [(int(r["num_tokens"]), float(r["linear_ms_32layers_real_a10_profile_rf"]))
                for r in csv.DictReader(handle)]
    assert len(rows) == 8192

    def errors(low, high):
        return [PROFILE.linear_time(n) * 1000 / ms - 1 for n, ms in rows if low <= n <= high]

    upto_4096 = errors(1, 4096)
    assert max(map(abs, upto_4096)) < 0.35  # worst: +34% near 120 tokens (vidur's forest steps there)
    assert sum(map(abs, upto_4096)) / len(upto_4096) < 0.03
    assert max(map(abs, errors(385, 4096))) < 0.13
    # beyond 4096 tokens vidur's forest is flat (913 ms: it was not trained there); the fit keeps growing
    assert max(errors(4097, 8192)) == pytest.approx(0.985, abs=0.01)
    assert not any(math.isnan(e) for e in upto_4096)
