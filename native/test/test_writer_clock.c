/* The writer's clock: snapshots at the configured interval even below the control-file poll, on a grid that a
 * slow write does not shift, and no burst after a stall. Driven with a simulated clock: nothing here is timed. */
#include "../writer.h"
#include "harness.h"

#define MS 1000000ull

struct outcome {
    int snapshots;
    int polls;
    uint64_t first_snapshot_ns;
    uint64_t largest_gap_ns;
};

/* Runs the clock for `run_ns`, waking exactly when it asks (plus `lateness_ns`, as a loaded machine would). */
static struct outcome simulate(uint64_t interval_ns, uint64_t run_ns, uint64_t lateness_ns)
{
    struct lh_writer_clock c;
    struct outcome o = {0};
    uint64_t now = 1000 * MS, start = now, last_snapshot = 0;
    lh_writer_clock_start(&c, interval_ns, now);
    while (now < start + run_ns) {
        uint64_t wake;
        unsigned due = lh_writer_clock_tick(&c, now, &wake);
        if (due & LH_WRITER_SNAPSHOT) {
            if (o.snapshots == 0)
                o.first_snapshot_ns = now - start;
            else if (now - last_snapshot > o.largest_gap_ns)
                o.largest_gap_ns = now - last_snapshot;
            last_snapshot = now;
            o.snapshots++;
        }
        o.polls += (due & LH_WRITER_POLL) != 0;
        CHECK(wake > now, "the clock asks to be woken later, not at %llu <= %llu", (unsigned long long)wake,
              (unsigned long long)now);
        now = wake + lateness_ns;
    }
    return o;
}

static void an_interval_below_the_poll_is_kept(void)
{
    struct outcome o = simulate(50 * MS, 10000 * MS, 0);
    CHECK(o.snapshots == 199 || o.snapshots == 200, "%d snapshots in 10 s at 50 ms", o.snapshots);
    CHECK(o.first_snapshot_ns == 50 * MS, "first after one interval (%llu ns)", (unsigned long long)o.first_snapshot_ns);
    CHECK(o.largest_gap_ns == 50 * MS, "largest gap %llu ns", (unsigned long long)o.largest_gap_ns);
    CHECK(o.polls >= 99 && o.polls <= 100, "control files looked for every 100 ms (%d)", o.polls);
}

static void a_long_interval_polls_in_between(void)
{
    struct outcome o = simulate(10000 * MS, 60000 * MS, 0);
    CHECK(o.snapshots == 5 || o.snapshots == 6, "%d snapshots in 60 s at 10 s", o.snapshots);
    CHECK(o.polls >= 599 && o.polls <= 600, "%d polls", o.polls);
}

static void late_wakes_keep_the_grid(void)
{
    /* Woken 7 ms late every time (a loaded machine): still one snapshot per interval on average. */
    struct outcome o = simulate(50 * MS, 10000 * MS, 7 * MS);
    CHECK(o.snapshots >= 190 && o.snapshots <= 200, "%d snapshots in 10 s at 50 ms, woken 7 ms late", o.snapshots);
}

static void a_stall_gives_one_snapshot_not_a_burst(void)
{
    struct lh_writer_clock c;
    uint64_t wake;
    lh_writer_clock_start(&c, 50 * MS, 0);
    /* The writer was stopped for a second (a setuid() pause, a slow write): one snapshot, then the next a whole
     * interval later, not twenty back to back. */
    CHECK(lh_writer_clock_tick(&c, 1000 * MS, &wake) & LH_WRITER_SNAPSHOT, "due after the stall");
    CHECK(!(lh_writer_clock_tick(&c, 1000 * MS + 1, &wake) & LH_WRITER_SNAPSHOT), "not again at once");
    CHECK(wake == 1050 * MS, "next snapshot one interval on (%llu)", (unsigned long long)wake);
}

int main(void)
{
    RUN(an_interval_below_the_poll_is_kept);
    RUN(a_long_interval_polls_in_between);
    RUN(late_wakes_keep_the_grid);
    RUN(a_stall_gives_one_snapshot_not_a_burst);
    return HARNESS_SUMMARY();
}
