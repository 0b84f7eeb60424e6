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
/* Context switches of process PID so far, all its threads summed
 * (voluntary and not): each is a wakeup or a preemption. -1 if gone. */
gint64 bench_report_context_switches (int   pid);

G_END_DECLS
