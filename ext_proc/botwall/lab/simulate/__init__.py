"""Labelled traffic, simulated: humans, good bots and bad bots sending timed requests through the real pipeline.

No public labelled bot traffic can be shipped, so training and evaluation data are synthesized (DATA_SOURCES.md,
"Labelled traffic"). Personas send real browser and tool header sets from real network blocks and react to what
they get back; every request goes through `Engine` in-process, so the feature vectors the model trains on come from
the same code the server runs (`botwall.scoring.features.vectorize`). Everything is decided by the scenario's seed.

    records = simulate(Scenario(seed=1), load_config(None))
"""

from botwall.lab.simulate._personas import PERSONAS, Actor, Reply, Request, World
from botwall.lab.simulate._run import (
    STANDARD_MIX,
    Labels,
    Record,
    Scenario,
    build_actors,
    build_world,
    make_engine,
    run,
    simulate,
    summarize,
    training_config,
)

__all__ = [
    "PERSONAS",
    "STANDARD_MIX",
    "Actor",
    "Labels",
    "Record",
    "Reply",
    "Request",
    "Scenario",
    "World",
    "build_actors",
    "build_world",
    "make_engine",
    "run",
    "simulate",
    "summarize",
    "training_config",
]
