"""The figures of bench/channels.py: each run's line, and the ratios of one code's runs (wall, Rectify's CPU,
the same with the SMTP sink; the queued/serial/floor runs beside when asked for)."""

from __future__ import annotations

import os
import random
import statistics


def show(kind: str, r: dict) -> None:
    ph = "  ".join(f"{k} {v:.2f}" for k, v in r["phases"].items())
    gcs = " ".join(f"{v:.2f}" for v in r["gc_s"].values())
    print(f"  {kind:<9} {r['run_s']:7.2f} s (CPU {r['cpu_s']:6.2f} s, of which IM/SMS sender "
          f"{r['sender_cpu_s']:.2f} s (gc {r['sender_gc_s']:.2f} s, {r['sender_faults']:,} page faults); "
          f"SMTP sink {r['smtp']['cpu_s']:.2f} s, "
          f"fake vendors {r['vendors']['cpu_s']:.2f} s)  peak RSS {r['rss_mib']:4.0f} MiB  load {r['load']:4.1f}")
    print(f"            [{ph}]  gc by generation {gcs} s")
    print(f"            the run's own process {r['own_cpu_s']:.2f} s CPU, {r['faults']:,} minor page faults; "
          f"its render workers and sender {r['cpu_s'] - r['own_cpu_s']:.2f} s")
    print(f"            mail: {r['messages']:,} letters, sent {r['sent']:,}, sink accepted {r['smtp']['messages']:,}")
    if r["channels"]:
        v = r["vendors"]
        print(f"            IM/SMS queued {r['channels']}, sent {r['channels_sent']}, failed {r['channels_failed']}, "
              f"pending {r['channels_pending']}, down {r['channels_down'] or '-'}")
        print(f"            fake vendors delivered {v['delivered']} to {v['distinct']} distinct addresses, "
              f"{v['requests']:,} requests, tokens fetched {v['tokens']}")


def summarise(results: dict[str, list[dict]], label: str) -> None:
    """The ratios of one code's runs: wall, Rectify's CPU (summed and median), with the SMTP sink's."""
    print(f"\n  {label}:" if label else "", end="")
    mail, chan = (sum(r["run_s"] for r in results[k]) for k in ("mail", "channels"))
    mail_cpu, chan_cpu = (sum(r["cpu_s"] for r in results[k]) for k in ("mail", "channels"))
    mail_sink, chan_sink = (sum(r["smtp"]["cpu_s"] for r in results[k]) for k in ("mail", "channels"))
    sender, fakes = (sum(f(r) for r in results["channels"]) for f in (lambda r: r["sender_cpu_s"],
                                                                        lambda r: r["vendors"]["cpu_s"]))
    print(f"\n  wall: mail alone {mail:.2f} s, mail + 企业微信 + SMS {chan:.2f} s: ratio {chan / mail:.3f} "
          f"({(chan / mail - 1) * 100:+.1f} %)   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  Rectify's CPU (run, render workers, IM/SMS sender): mail alone {mail_cpu:.2f} s, with the channels "
          f"{chan_cpu:.2f} s (of which the sender {sender:.2f} s): ratio {chan_cpu / mail_cpu:.3f} "
          f"({(chan_cpu / mail_cpu - 1) * 100:+.1f} %)")
    spread = interval([r["cpu_s"] for r in results["mail"]], [r["cpu_s"] for r in results["channels"]])
    if spread:
        print(f"  that ratio's 95 % interval, the runs of each kind drawn again 2,000 times: "
              f"{(spread[0] - 1) * 100:+.1f} % to {(spread[1] - 1) * 100:+.1f} % (what this machine's noise allows "
              f"concluding from {len(results['mail'])} + {len(results['channels'])} runs)")
    split(results)
    if results["queued"]:
        q = sum(r["cpu_s"] for r in results["queued"]) / len(results["queued"])
        m, c = mail_cpu / len(results["mail"]), chan_cpu / len(results["channels"])
        print(f"  per run: mail alone {m:.2f} s CPU; channel rows queued, none sent {q:.2f} s "
              f"({q - m:+.2f} s: rendering and inserting them); sent {c:.2f} s ({c - q:+.2f} s: sending)")
    if results["serial"]:
        r, n = results["serial"], len(results["channels"])
        print(f"  sent after the mail in the run's process: {sum(x['cpu_s'] for x in r) / len(r):.2f} s CPU a run, "
              f"{sum(x['run_s'] for x in r) / len(r):.2f} s wall (beside: {chan_cpu / n:.2f} s, {chan / n:.2f} s)")
    floors = [r["floor"] for r in results["channels"] if r.get("floor")]
    if floors:
        n = len(floors)
        bare = sum(f["cpu_s"] for f in floors) / n
        send = sum(r["sender_cpu_s"] for r in results["channels"] if r.get("floor")) / n
        print(f"  bare floor (the same {floors[0]['requests']:,} requests over plain asyncio streams, no outbox; "
              f"bench/channels_floor.py): {bare:.2f} s CPU a run, {sum(f['wall_s'] for f in floors) / n:.2f} s wall; "
              f"the sender {send:.2f} s: {send / bare:.2f}x the floor; fake vendors delivered "
              f"{floors[0]['vendors']['delivered']} to the floor")
    med = {k: statistics.median(r["cpu_s"] for r in results[k]) for k in ("mail", "channels")}
    print(f"  per run, median of {len(results['mail'])}: mail alone {med['mail']:.2f} s CPU, with the channels "
          f"{med['channels']:.2f} s: ratio {med['channels'] / med['mail']:.3f} "
          f"({(med['channels'] / med['mail'] - 1) * 100:+.1f} %)")
    print(f"  the same + the SMTP sink: mail alone {mail_cpu + mail_sink:.2f} s, with the channels "
          f"{chan_cpu + chan_sink:.2f} s: ratio {(chan_cpu + chan_sink) / (mail_cpu + mail_sink):.3f}; "
          f"beside, not added: the fake vendors' servers {fakes:.2f} s")


def split(results: dict[str, list[dict]]) -> None:
    """What the channels add a run, by process (means), beside the room the target leaves (20 % of mail alone).
    The render workers' share also holds the sender's fork and exit, which its own timer does not see."""
    def mean(kind: str, part) -> float:
        return sum(part(r) for r in results[kind]) / len(results[kind])

    own, workers = (mean("channels", f) - mean("mail", f) for f in (
        lambda r: r["own_cpu_s"], lambda r: r["cpu_s"] - r["own_cpu_s"] - r["sender_cpu_s"]))
    sender = mean("channels", lambda r: r["sender_cpu_s"])
    room = 0.2 * mean("mail", lambda r: r["cpu_s"])
    total = own + workers + sender
    print(f"  what the channels add a run, by process (means): the run's own {own:+.3f} s, the render workers "
          f"(with the sender's fork and exit) {workers:+.3f} s, the sender {sender:.3f} s: {total:.3f} s in all, "
          f"where 20 % of mail alone is {room:.3f} s")


def interval(mail: list[float], chan: list[float], draws: int = 2000) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles of sum(chan) / sum(mail) over bootstrap resamples of each kind's runs
    (a fixed seed: the same runs print the same interval). None below three runs of each."""
    if min(len(mail), len(chan)) < 3:
        return None
    rng = random.Random(0)
    ratios = sorted(sum(rng.choices(chan, k=len(chan))) / sum(rng.choices(mail, k=len(mail)))
                    for _ in range(draws))
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]
