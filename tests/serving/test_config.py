"""The cluster's and each replica's configuration: Glia's setup by default, checked on construction."""
import dataclasses

import pytest

from adrs_bench.serving import ClusterConfig, ReplicaConfig


def test_defaults_are_glias_replica():
    replica = ReplicaConfig()
    assert (replica.num_blocks, replica.block_size, replica.watermark_blocks) == (2240, 16, 22)
    assert (replica.max_batch_tokens, replica.max_batch_requests) == (8192, 128)
    assert replica.max_request_blocks == 2218
    assert ClusterConfig().replica == replica and ClusterConfig().num_replicas == 4


def test_a_request_fits_alone_when_its_whole_length_fits_below_the_watermark():
    replica = ReplicaConfig()
    assert replica.blocks_for(16) == 1 and replica.blocks_for(17) == 2
    assert replica.fits_alone(2218 * 16 - 10, 10) and not replica.fits_alone(2218 * 16 - 10, 11)


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ReplicaConfig().num_blocks = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClusterConfig().fast = False


@pytest.mark.parametrize("kwargs, message", [
    ({"num_blocks": 0}, "ReplicaConfig.num_blocks must be an int >= 1, got 0"),
    ({"block_size": True}, "ReplicaConfig.block_size must be an int >= 1, got True"),
    ({"watermark_fraction": 1.0}, r"ReplicaConfig.watermark_fraction must be in \[0, 1\), got 1.0"),
])
def test_replica_config_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ReplicaConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_replicas": -1}, "ClusterConfig.num_replicas must be an int >= 0, got -1"),
    ({"cold_start": float("inf")}, "ClusterConfig.cold_start must be a finite number >= 0, got inf"),
    ({"tick_interval": 0.0}, "ClusterConfig.tick_interval must be a finite number > 0, got 0.0"),
    ({"stall_ticks": 0}, "ClusterConfig.stall_ticks must be >= 1, got 0"),
])
def test_cluster_config_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ClusterConfig(**kwargs)
