/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One row of the benchmark table, as a line "BENCH {json}" on stdout that
 * bench/run-benchmarks.sh collects. BASELINE NAN means none (then
 * BASELINE_NAME and the ratio are null); RATIO NAN means none. */
void   bench_report_row        (const char *row,
                                const char *name,
                                double      value,
                                const char *unit,
                                double      baseline,
                                const char *baseline_name,
                                double      ratio,
                                const char *target,
                                gboolean    met);
/* The P-th percentile (0–100, nearest rank) of VALUES (doubles), which
 * it sorts. */
double bench_report_percentile (GArray     *values,
                                double      p);
/* Context switches of every thread of a process from one moment on:
 * voluntary ones are wakeups (a thread slept and was woken), involuntary
 * ones preemptions, which depend on the machine's load. Threads come and go
 * (GLib's pools end idle ones), so each is read at every sample and one
 * that ended counts as of its last; sample often. */
typedef struct _BenchSwitches BenchSwitches;

BenchSwitches *bench_switches_new    (int            pid);
/* FALSE when the process is gone. */
gboolean       bench_switches_sample (BenchSwitches *self);
void           bench_switches_total  (BenchSwitches *self,
                                      gint64        *voluntary,
                                      gint64        *involuntary);
void           bench_switches_free   (BenchSwitches *self);

/* After test_process_isolated_env(): the programs run as users run them,
 * without the tests' gc-friendly zeroing of freed memory (it costs the
 * media path alone ~10 % of its instructions), criticals still fatal. */
void           bench_program_env     (void);

G_END_DECLS
