/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pairing time on loopback with the real programs: from the start of
 * `companion-phone scan` to "paired" on both sides, with the image decode
 * shown separately. Usage: bench-pairing [RUNS] (default 20). */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include "bench-report.h"
#include "test-process.h"
#include "test-util.h"

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
row (const char *name,
     GArray     *values)
{
  double median, worst;

  g_array_sort (values, compare_double);
  median = values->len % 2 ? g_array_index (values, double, values->len / 2)
                           : (g_array_index (values, double, values->len / 2 - 1) +
                              g_array_index (values, double, values->len / 2)) / 2;
  worst = g_array_index (values, double, values->len - 1);
  printf ("| %-44s | %8.1f | %8.1f |\n", name, median, worst);
  return median;
}

int
main (int   argc,
      char *argv[])
{
  const char *cli = g_getenv ("COMPANION_CLI");
  const char *phone = g_getenv ("COMPANION_PHONE");
  guint runs = argc > 1 ? (guint) atoi (argv[1]) : 20;
  g_autoptr(GArray) total = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) decode = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) network = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *root = g_dir_make_tmp ("companion-bench-XXXXXX", NULL);
  g_autofree char *name = NULL;
  double total_ms, decode_ms;

  if (cli == NULL || phone == NULL || runs == 0)
    {
      fprintf (stderr, "Set COMPANION_CLI and COMPANION_PHONE; RUNS must be a positive number\n");
      return 2;
    }
  test_process_isolated_env (root, g_getenv ("XDG_DATA_DIRS") ? g_getenv ("XDG_DATA_DIRS")
                                                               : "/usr/local/share:/usr/share");
  bench_program_env ();

  for (guint i = 0; i < runs; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/run-%u", root, i);
      g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
      g_autofree char *phone_dir = g_build_filename (dir, "phone", NULL);
      g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
      g_autoptr(JsonObject) qr = NULL, scanned = NULL, phone_paired = NULL, desk_paired = NULL;
      TestProcess *desktop, *device;
      gint64 started, done;
      double ms, decode_ms;

      g_mkdir_with_parents (dir, 0700);
      desktop = test_process_start (cli, "pair", "--json", "--state-dir", desk, "--listen", "127.0.0.1:0",
                                    "--qr-png", png, NULL);
      qr = test_process_wait_event (desktop, "qr");

      started = g_get_monotonic_time ();
      device = test_process_start (phone, "scan", png, "--json", "--state-dir", phone_dir, NULL);
      scanned = test_process_wait_event (device, "scanned");
      phone_paired = test_process_wait_event (device, "paired");
      desk_paired = test_process_wait_event (desktop, "paired");
      done = MAX (json_object_get_int_member (phone_paired, "monotonic_us"),
                  json_object_get_int_member (desk_paired, "monotonic_us"));

      ms = (done - started) / 1000.0;
      decode_ms = json_object_get_double_member (scanned, "decode_ms");
      g_array_append_val (total, ms);
      g_array_append_val (decode, decode_ms);
      ms = (done - json_object_get_int_member (scanned, "monotonic_us")) / 1000.0;
      g_array_append_val (network, ms);

      test_process_send (device, "{\"type\": \"quit\"}");
      test_process_send (desktop, "{\"type\": \"quit\"}");
      if (test_process_finish (device) != 0 || test_process_finish (desktop) != 0)
        {
          fprintf (stderr, "run %u: a program failed\n", i);
          return 1;
        }
    }

  printf ("Pairing on loopback, %u runs (real companion-cli and companion-phone processes)\n\n", runs);
  printf ("| %-44s | %8s | %8s |\n", "step", "median", "worst");
  printf ("|%s|%s|%s|\n", "----------------------------------------------", "----------", "----------");
  total_ms = row ("scan start to paired on both sides (ms)", total);
  decode_ms = row ("  of which: image decode, PNG to zbar (ms)", decode);
  row ("  of which: decoded to paired on both (ms)", network);

  name = g_strdup_printf ("pairing, scan → paired on both sides, median of %u (PNG decode: %.1f ms of it)",
                          runs, decode_ms);
  bench_report_row ("B5", name, total_ms, "ms", NAN, NULL, NAN, "≤ 150 ms", total_ms <= 150);
  test_util_remove_tree (root);
  return 0;
}
