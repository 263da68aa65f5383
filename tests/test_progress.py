"""ember.utils.progress: the training progress bar, driven by a fake clock."""

import io

import numpy as np
import pytest

import ember
from ember.utils import ProgressBar, format_duration


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make_bar(total, **kwargs):
    clock, stream = FakeClock(), io.StringIO()
    bar = ProgressBar(total, stream=stream, clock=clock, **kwargs)
    return bar, clock, stream


def test_format_duration():
    assert format_duration(7.4) == "0:07"
    assert format_duration(754) == "12:34"
    assert format_duration(3723) == "1:02:03"


def test_plain_lines_show_progress_rate_eta_and_running_means():
    bar, clock, stream = make_bar(20, desc="epoch 1/3", interactive=False, min_plain_seconds=0)
    for step in range(20):
        clock.now += 0.5
        bar.update(samples=32, loss=2.0 - 0.1 * step)
    bar.close(val_acc=0.75)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10  # about a tenth of the run each, then the final line
    assert lines[1].startswith("epoch 1/3   4/20 [=====>")
    # 4 steps of 32 samples in 2 s -> 64 samples/s; 2 s / 4 steps * 16 left -> 8 s
    assert "64 samples/s" in lines[1] and lines[1].endswith("ETA 0:08")
    assert "loss 1.8500" in lines[1]  # mean of 2.0, 1.9, 1.8, 1.7
    final = lines[-1]
    assert "20/20 [" + "=" * 25 + "]" in final
    assert "loss 1.0500" in final and "val_acc 0.7500" in final and final.endswith("0:10")
    assert "\r" not in stream.getvalue()


def test_means_are_weighted_by_samples():
    bar, _, _ = make_bar(2, verbose=0)
    bar.update(samples=10, loss=1.0, acc=0.5)
    bar.update(samples=30, loss=3.0, acc=ember.from_numpy(np.array(1.0)))
    assert bar.means() == {"loss": pytest.approx(2.5), "acc": pytest.approx(0.875)}


def test_interactive_redraws_in_place_and_throttles():
    bar, clock, stream = make_bar(100, interactive=True, min_redraw_seconds=0.1)
    bar.update(samples=1, loss=1.0)  # first update draws
    for _ in range(5):
        bar.update(samples=1, loss=1.0)  # the clock stands still: no redraw
    assert stream.getvalue().count("\r") == 1
    clock.now += 0.2
    bar.update(samples=1)
    assert stream.getvalue().count("\r") == 2 and "\n" not in stream.getvalue()
    bar.update(steps=93)  # reaching the total always draws
    bar.close()
    out = stream.getvalue()
    assert out.count("\r") == 4 and out.endswith("\n") and out.count("\n") == 1
    assert out.split("\r")[-1].startswith("100/100")


def test_a_shorter_redraw_blanks_the_longer_previous_line():
    bar, clock, stream = make_bar(None, interactive=True, desc="a long description")
    bar.update()
    first = stream.getvalue().split("\r")[-1]
    bar.desc = ""
    clock.now += 1
    bar.update()
    second = stream.getvalue().split("\r")[-1]
    assert len(second.rstrip()) < len(first) == len(second)


def test_verbose_levels():
    silent, _, out0 = make_bar(10, verbose=0, interactive=True)
    summary, clock, out2 = make_bar(10, verbose=2, interactive=True)
    for bar in (silent, summary):
        for _ in range(10):
            clock.now += 1
            bar.update(loss=0.5)
        bar.close()
        bar.close()  # closing twice prints once
    assert out0.getvalue() == ""
    assert out2.getvalue().count("\n") == 1 and "10/10" in out2.getvalue()
    with pytest.raises(ValueError, match="verbose"):
        ProgressBar(10, verbose=3)


def test_unknown_total_counts_steps_and_steps_per_second():
    bar, clock, stream = make_bar(None, interactive=False, min_plain_seconds=0)
    for _ in range(100):
        clock.now += 0.1
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("50 steps") and "10.00 steps/s" in lines[0]
    assert lines[-1].startswith("100 steps") and lines[-1].endswith("0:10")


def test_plain_lines_are_rationed_in_time():
    """In a log, a 2-second epoch prints only its final line; a 40-second one every ~10 s."""
    bar, clock, stream = make_bar(20, interactive=False)
    for _ in range(20):
        clock.now += 0.1
        bar.update(samples=1)
    bar.close()
    assert len(stream.getvalue().splitlines()) == 1
    bar, clock, stream = make_bar(20, interactive=False)
    for _ in range(20):
        clock.now += 2.0
        bar.update(samples=1)
    bar.close()
    assert len(stream.getvalue().splitlines()) == 4  # at 12, 24 and 36 s, then the final line
