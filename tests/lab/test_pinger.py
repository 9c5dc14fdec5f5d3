"""The lab's Pinger reads iputils ping's replies: icmp_seq is 16 bits, so a ping every 10 ms wraps
it after about 11 minutes. Before, every reply after the wrap was taken for a duplicate and the
soak's 20-minute runs saw a made-up gap of a minute at the end of each."""

from __future__ import annotations

import subprocess

import pytest

from tests.lab.traffic import SEQ_SPAN, Pinger, unwrap_seq

REPLIES = 70_000  # past one wrap


def ping_output(tmp_path, numbers) -> subprocess.Popen:
    text = "".join(f"[{1000 + n * 0.01:.6f}] 64 bytes from 10.0.0.1: icmp_seq={n % SEQ_SPAN} ttl=64 time=0.1 ms\n"
                   for n in numbers)
    (tmp_path / "ping.out").write_text(text + f"\n--- 10.0.0.1 ping statistics ---\n{REPLIES} packets transmitted, "
                                              f"{REPLIES} received, 0% packet loss, time 700000ms\n")
    return subprocess.Popen(["cat", str(tmp_path / "ping.out")], stdout=subprocess.PIPE, text=True)


def read(tmp_path, numbers) -> Pinger:
    pinger = Pinger("unused", "10.0.0.1")
    pinger.proc = ping_output(tmp_path, numbers)
    pinger._read()
    pinger.proc.wait()
    return pinger


def test_replies_after_the_sequence_wraps_are_counted(tmp_path):
    pinger = read(tmp_path, range(1, REPLIES + 1))
    replies = pinger.replies
    assert len(replies) == REPLIES
    assert max(b - a for a, b in zip(replies, replies[1:])) == pytest.approx(0.01, abs=1e-4)


def test_duplicates_and_late_replies_around_the_wrap(tmp_path):
    numbers = [SEQ_SPAN - 2, SEQ_SPAN - 1, SEQ_SPAN + 1, SEQ_SPAN, SEQ_SPAN, SEQ_SPAN + 2, SEQ_SPAN - 1]
    pinger = read(tmp_path, numbers)
    assert pinger._seqs == [SEQ_SPAN - 2, SEQ_SPAN - 1, SEQ_SPAN + 1, SEQ_SPAN, SEQ_SPAN + 2]


@pytest.mark.parametrize("raw, last, expected", [(5, None, 5), (0, 65535, 65536), (65535, 65536, 65535),
                                                 (3, 131070, 131075), (7, 10, 7)])
def test_unwrap_takes_the_candidate_nearest_the_last_reply(raw, last, expected):
    assert unwrap_seq(raw, last) == expected
