/* SPDX-License-Identifier: GPL-3.0-or-later */
/* B7: wakeups while idle. A paired, connected phone with nothing to say:
 * the voluntary context switches of every thread of each real program
 * (/proc/PID/task/N/status) over the measured time, as wakeups a minute;
 * involuntary ones (preemptions, from other load on the machine) are
 * shown beside them. Each one costs a laptop's CPU a trip out of its sleep
 * states. Both programs must stay connected throughout.
 *
 * Usage: bench-idle [SECONDS] (default 60, after 5 s to settle). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-report.h"
#include "bench-session.h"

#define SETTLE_MS 5000
/* Reading /proc does not wake the programs. */
#define SAMPLE_MS 200

static gboolean
on_done (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Sleeps in the main loop, as the programs do. */
static void
sleep_ms (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static guint
count_events (const char *output,
              const char *event)
{
  g_autofree char *needle = g_strdup_printf ("\"event\":\"%s\"", event);
  guint n = 0;

  for (const char *at = strstr (output, needle); at != NULL; at = strstr (at + 1, needle))
    n++;
  return n;
}

int
main (int   argc,
      char *argv[])
{
  double seconds = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 60;
  g_autofree char *desktop_name = NULL, *phone_name = NULL;
  BenchSession *session;
  BenchSwitches *desktop, *phone;
  gint64 desktop_switches, phone_switches, desktop_preempted, phone_preempted, started, ended;
  gboolean alive = TRUE;
  double minutes, desktop_rate, phone_rate;
  gboolean stayed;

  if (!(seconds > 0 && seconds <= 3600))
    {
      fprintf (stderr, "Usage: bench-idle [SECONDS] (0 < SECONDS ≤ 3600)\n");
      return 2;
    }

  session = bench_session_new ("bench-idle");
  bench_session_pair (session, "--generate", "chats=20,messages=2000,media=5,calls=50,seed=1");
  bench_session_start (session, NULL);
  /* The catch-up after connecting and small media downloads end first. */
  sleep_ms (SETTLE_MS);

  started = g_get_monotonic_time ();
  desktop = bench_switches_new (test_process_get_pid (session->desktop));
  phone = bench_switches_new (test_process_get_pid (session->phone));
  for (gint64 due = started + SAMPLE_MS * 1000; due < started + (gint64) (seconds * G_USEC_PER_SEC);
       due += SAMPLE_MS * 1000)
    {
      sleep_ms ((guint) MAX (0, (due - g_get_monotonic_time ()) / 1000));
      alive = alive && bench_switches_sample (desktop) && bench_switches_sample (phone);
    }
  sleep_ms ((guint) MAX (0, (started + (gint64) (seconds * G_USEC_PER_SEC) - g_get_monotonic_time ()) / 1000));
  alive = alive && bench_switches_sample (desktop) && bench_switches_sample (phone);
  ended = g_get_monotonic_time ();
  bench_switches_total (desktop, &desktop_switches, &desktop_preempted);
  bench_switches_total (phone, &phone_switches, &phone_preempted);
  bench_switches_free (desktop);
  bench_switches_free (phone);

  if (!bench_session_stop (session))
    {
      fprintf (stderr, "A program failed\n");
      return 1;
    }
  /* One connection all along: a drop would have been followed by another. */
  stayed = count_events (session->phone_output, "connected") == 1 &&
           count_events (session->desktop_output, "connected") == 1;
  bench_session_free (session);
  if (!stayed)
    {
      fprintf (stderr, "The connection dropped while idle\n");
      return 1;
    }
  if (!alive)
    {
      fprintf (stderr, "A program ended while measured\n");
      return 1;
    }

  minutes = (ended - started) / 60e6;
  /* To a hundredth: the window is 60 s give or take the loop's microseconds. */
  desktop_rate = round (desktop_switches / minutes * 100) / 100;
  phone_rate = round (phone_switches / minutes * 100) / 100;
  printf ("Idle and connected for %.1f s: desktop %" G_GINT64_FORMAT " wakeups (%.1f a minute) and %"
          G_GINT64_FORMAT " preemptions, phone %" G_GINT64_FORMAT " wakeups (%.1f a minute) and %"
          G_GINT64_FORMAT " preemptions\n", minutes * 60, desktop_switches, desktop_rate, desktop_preempted,
          phone_switches, phone_rate, phone_preempted);

  desktop_name = g_strdup_printf ("idle, paired and connected: desktop (companion-cli) wakeups a minute, "
                                  "over %.0f s", minutes * 60);
  bench_report_row ("B7", desktop_name, desktop_rate, "/min", NAN, NULL, NAN, "≤ 4 /min", desktop_rate <= 4);
  phone_name = g_strdup_printf ("idle, paired and connected: phone (companion-phone) wakeups a minute, "
                                "over %.0f s", minutes * 60);
  bench_report_row ("B7", phone_name, phone_rate, "/min", NAN, NULL, NAN, "≤ 4 /min", phone_rate <= 4);
  return 0;
}
