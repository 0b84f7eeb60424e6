/* SPDX-License-Identifier: GPL-3.0-or-later */
/* B4: live latency, from an event applied on the phone to its change
 * committed in the desktop's mirror, with the real programs under steady
 * random traffic (companion-phone --events RATE --trace-events). Both
 * print CLOCK_MONOTONIC times, shared by processes on one machine: each
 * batch of events the phone applies (its last change) is matched with the
 * first desktop commit whose cursor reaches it, and every event of the
 * batch gets that latency. The first second after connecting is left out:
 * events made while connecting wait for the connection, not for the sync.
 *
 * Usage: bench-latency [RATE [SECONDS]] (default 200 events a second for 60 s). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-report.h"
#include "bench-session.h"

#define WARM_UP_US G_USEC_PER_SEC

int
main (int   argc,
      char *argv[])
{
  double rate = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 200;
  double seconds = argc > 2 ? g_ascii_strtod (argv[2], NULL) : 60;
  g_autofree char *rate_text = g_strdup_printf ("%g", rate);
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(JsonObject) synced = NULL;
  g_autofree char *p50_name = NULL, *p99_name = NULL;
  BenchSession *session;
  gint64 measure_from, measure_until, cursor = -1, synced_at = 0;
  guint batches = 0, skipped = 0;
  double p50, p99;

  if (!(rate > 0 && rate <= 5000) || !(seconds > 0))
    {
      fprintf (stderr, "Usage: bench-latency [RATE [SECONDS]] (0 < RATE ≤ 5000)\n");
      return 2;
    }

  session = bench_session_new ("bench-latency");
  bench_session_pair (session, "--generate", "chats=50,messages=5000,media=0,calls=100,seed=1");
  bench_session_start (session, "--events", rate_text, "--trace-events", NULL);
  measure_from = g_get_monotonic_time () + WARM_UP_US;
  measure_until = measure_from + (gint64) (seconds * G_USEC_PER_SEC);

  /* In step: the next phone batch, then desktop commits until one covers
   * it. Both outputs are read as they come, so neither program ever waits
   * on a full pipe. */
  for (;;)
    {
      g_autoptr(JsonObject) applied = test_process_wait_event (session->phone, "events-applied");
      gint64 applied_at = json_object_get_int_member (applied, "monotonic_us");
      gint64 seq = json_object_get_int_member (applied, "seq");
      gint64 events = json_object_get_int_member (applied, "events");

      if (applied_at > measure_until)
        break;
      while (cursor < seq)
        {
          g_clear_pointer (&synced, json_object_unref);
          synced = test_process_wait_event (session->desktop, "synced");
          cursor = json_object_get_int_member (synced, "cursor");
          synced_at = json_object_get_int_member (synced, "monotonic_us");
        }
      if (applied_at < measure_from)
        {
          skipped += (guint) events;
          continue;
        }
      batches++;
      for (gint64 i = 0; i < events; i++)
        {
          double ms = (synced_at - applied_at) / 1000.0;
          g_array_append_val (latencies, ms);
        }
    }
  if (!bench_session_stop (session))
    {
      fprintf (stderr, "A program failed\n");
      return 1;
    }
  bench_session_free (session);
  if (latencies->len == 0)
    {
      fprintf (stderr, "No events were measured\n");
      return 1;
    }

  p50 = bench_report_percentile (latencies, 50);
  p99 = bench_report_percentile (latencies, 99);
  printf ("Live latency, phone event applied → desktop commit, %g events/s for %g s: %u events in %u "
          "batches matched (%u left out while connecting); p50 %.2f ms, p99 %.2f ms, worst %.2f ms\n",
          rate, seconds, latencies->len, batches, skipped, p50, p99,
          g_array_index (latencies, double, latencies->len - 1));

  p50_name = g_strdup_printf ("live latency, phone event → desktop commit, %g events/s for %g s, p50 of %u",
                              rate, seconds, latencies->len);
  bench_report_row ("B4", p50_name, p50, "ms", NAN, NULL, NAN, "≤ 5 ms", p50 <= 5);
  p99_name = g_strdup_printf ("live latency, phone event → desktop commit, %g events/s for %g s, p99 of %u",
                              rate, seconds, latencies->len);
  bench_report_row ("B4", p99_name, p99, "ms", NAN, NULL, NAN, "≤ 50 ms", p99 <= 50);
  return 0;
}
