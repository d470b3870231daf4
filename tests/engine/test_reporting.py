import io

from ftstudio.engine.reporting import ConsoleReporter, RecordingReporter
from ftstudio.formatting import format_duration


def drive(rep):
    rep.train_begin({"epochs": 2, "steps_per_epoch": 4, "train_samples": 100, "phase": "train"})
    for step in range(1, 9):
        rep.batch_end(step, {"loss": 1.0 / step, "epoch": 1 + (step - 1) // 4,
                             "samples_per_s": 50.0})
        if step % 4 == 0:
            rep.epoch_end(step // 4, {"loss": 0.5, "val_loss": 0.6, "lr": 1e-3})
    rep.train_end({"stopped_by_user": True})


def test_tty_mode_draws_a_bar_with_eta():
    out = io.StringIO()
    drive(ConsoleReporter(out, tty=True, min_interval=0))
    text = out.getvalue()
    assert "[" in text and "ETA" in text and "step 8/8" in text
    assert "epoch 2/2" in text and "val_loss 0.6" in text
    assert "Stopped by user" in text


def test_plain_mode_prints_lines_only():
    out = io.StringIO()
    drive(ConsoleReporter(out, tty=False))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and "ETA" not in out.getvalue()
    assert sum(line.startswith("epoch ") for line in lines) == 2


def test_recording_reporter_stops_when_asked():
    rep = RecordingReporter(stop_after_batches=3)
    for step in range(1, 3):
        rep.batch_end(step, {})
    assert not rep.should_stop()
    rep.batch_end(3, {})
    assert rep.should_stop()


def test_format_duration():
    assert format_duration(75) == "1:15"
    assert format_duration(3700) == "1:01:40"
