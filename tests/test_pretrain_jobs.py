"""``python -m helpers pretrain`` trains several backbones at once, each worker a fresh process
(issue 21: on 2 cores two at once took less time than one after the other): the workers train
this process's recipes, failures and dead processes are reported after the others, and an
interruption leaves no process behind. Tiny recipes; the scheduling does not depend on the
backend, so the JAX half of ``make test`` skips this module (tests/conftest.py)."""

from __future__ import annotations

import dataclasses
import multiprocessing

import keras
import pytest

from helpers import pretrain, runtime

# VGG16 at 32 px: the backbone whose training step is the quickest to trace (no BatchNorm)
TINY = pretrain.Recipe("VGG16", 32, steps=2, batch=4, per_class=1)
TINY_3 = dataclasses.replace(TINY, steps=3)
LONG = dataclasses.replace(TINY, steps=10_000)


@pytest.fixture
def recipes(lab_env, monkeypatch):
    """Two tiny recipes under two of the course's names; offline; the ``RECIPES`` dict."""
    monkeypatch.setattr(pretrain, "RECIPES", {"MobileNetV2_96": TINY_3, "MobileNet_224": TINY})
    monkeypatch.setenv("LAB_OFFLINE", "1")
    return pretrain.RECIPES


def test_builds_at_once_train_this_process_s_recipes_and_a_failure_is_reported_after_the_others(
        recipes, capsys) -> None:
    """The workers are fresh interpreters: they train this process's recipes (the tiny ones,
    not the course's), cache them where this process would and record how many ran at once;
    the one that fails is reported once the others are cached, and the command fails."""
    from helpers.__main__ import main

    recipes["VGG16"] = dataclasses.replace(TINY, backbone="NoSuchNet")
    assert main(["pretrain", "--jobs", "2"]) == 1
    out, err = capsys.readouterr()
    assert "MobileNetV2_96: trained on" in out and "MobileNet_224: trained on" in out
    assert "pretrained 2 of 3 backbones in" in out and "2 at once" in out
    assert "VGG16: AttributeError" in err and "NoSuchNet" in err
    for name in ("MobileNetV2_96", "MobileNet_224"):
        made = pretrain.cached(name)
        assert made.path == pretrain.weights_path(name)
        assert made.info["steps_trained"] == recipes[name].steps
        assert made.info["builds_at_once"] == 2
        assert made.info["backend"] == keras.backend.backend()
    assert not pretrain.cached("VGG16") and not multiprocessing.active_children()


def test_an_interruption_stops_every_build_process(recipes) -> None:
    """Interrupted when the first backbone is cached: the other's process is stopped, not left
    training (its weights are trained again next time)."""
    recipes["MobileNetV2_96"] = LONG

    def interrupt(made: pretrain.Pretrained) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain.build_many(["MobileNetV2_96", "MobileNet_224"], 2, interrupt)
    assert not multiprocessing.active_children()
    assert pretrain.cached("MobileNet_224") and not pretrain.cached("MobileNetV2_96")


def test_a_build_process_that_dies_is_reported_without_waiting_for_it(recipes) -> None:
    """A process killed mid-training (as the kernel kills one out of memory) sends nothing:
    its backbone is reported failed once the process is gone, the other is kept."""
    recipes["MobileNetV2_96"] = LONG

    def kill_the_others(made: pretrain.Pretrained) -> None:
        for process in multiprocessing.active_children():
            process.kill()

    with pytest.raises(RuntimeError, match="MobileNetV2_96: (its process ended|not trained)"):
        pretrain.build_many(["MobileNetV2_96", "MobileNet_224"], 2, kill_the_others)
    assert pretrain.cached("MobileNet_224") and not pretrain.cached("MobileNetV2_96")
    assert not multiprocessing.active_children()


def test_one_build_at_once_trains_here_one_after_the_other(recipes, monkeypatch) -> None:
    order = []
    monkeypatch.setattr(pretrain, "build", lambda name: order.append(name) or name)
    made = []
    pretrain.build_many(["MobileNet_224", "MobileNetV2_96"], 1, made.append)
    assert order == made == ["MobileNet_224", "MobileNetV2_96"]


def test_the_default_is_two_at_once_on_a_cpu_with_two_cores_else_one(monkeypatch):
    """For pretraining's builds and make run's notebooks alike (runtime.side_by_side)."""
    monkeypatch.setattr(runtime, "device_platforms", lambda: ["cpu"])
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    assert runtime.side_by_side() == 2
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 1)
    assert runtime.side_by_side() == 1
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(runtime, "device_platforms", lambda: ["gpu"])
    assert runtime.side_by_side() == 1


@pytest.mark.parametrize("jobs", ["0", "two", "-1"])
def test_the_pretrain_command_refuses_a_bad_jobs_in_one_line(recipes, capsys, jobs) -> None:
    from helpers.__main__ import main

    assert main(["pretrain", "--jobs", jobs]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--jobs" in err and repr(jobs) in err
