/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-report.h"

void
bench_report_row (const char *row,
                  const char *name,
                  double      value,
                  const char *unit,
                  double      baseline,
                  const char *baseline_name,
                  double      ratio,
                  const char *target,
                  gboolean    met)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "row");
  json_builder_add_string_value (builder, row);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "value");
  json_builder_add_double_value (builder, value);
  json_builder_set_member_name (builder, "unit");
  json_builder_add_string_value (builder, unit);
  json_builder_set_member_name (builder, "baseline");
  if (isnan (baseline))
    json_builder_add_null_value (builder);
  else
    json_builder_add_double_value (builder, baseline);
  json_builder_set_member_name (builder, "baseline_name");
  if (isnan (baseline) || baseline_name == NULL)
    json_builder_add_null_value (builder);
  else
    json_builder_add_string_value (builder, baseline_name);
  json_builder_set_member_name (builder, "ratio");
  if (isnan (ratio))
    json_builder_add_null_value (builder);
  else
    json_builder_add_double_value (builder, ratio);
  json_builder_set_member_name (builder, "target");
  json_builder_add_string_value (builder, target);
  json_builder_set_member_name (builder, "met");
  json_builder_add_boolean_value (builder, met);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  printf ("BENCH %s\n", text);
  fflush (stdout);
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

double
bench_report_percentile (GArray *values,
                         double  p)
{
  guint rank;

  if (values->len == 0)
    return NAN;
  g_array_sort (values, compare_double);
  /* Nearest rank: the smallest value with at least P% at or below it. */
  rank = (guint) ceil (p / 100.0 * values->len);
  rank = CLAMP (rank, 1, values->len);
  return g_array_index (values, double, rank - 1);
}

/* The number after FIELD ("Name:\tvalue") in a /proc status text, or -1. */
static gint64
status_field (const char *text,
              const char *field)
{
  const char *at = strstr (text, field);

  if (at == NULL)
    return -1;
  return g_ascii_strtoll (at + strlen (field), NULL, 10);
}

struct _BenchSwitches
{
  int         pid;
  GHashTable *first; /* thread id → gint64[2] when first seen, for threads there from the start */
  GHashTable *last;  /* thread id → gint64[2] when last seen: voluntary, involuntary */
};

BenchSwitches *
bench_switches_new (int pid)
{
  BenchSwitches *self = g_new0 (BenchSwitches, 1);
  GHashTableIter iter;
  gpointer tid, counts;

  self->pid = pid;
  self->first = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  self->last = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  bench_switches_sample (self);
  /* Threads started later count from zero. */
  g_hash_table_iter_init (&iter, self->last);
  while (g_hash_table_iter_next (&iter, &tid, &counts))
    g_hash_table_insert (self->first, tid, g_memdup2 (counts, 2 * sizeof (gint64)));
  return self;
}

gboolean
bench_switches_sample (BenchSwitches *self)
{
  g_autofree char *task_dir = g_strdup_printf ("/proc/%d/task", self->pid);
  g_autoptr(GDir) dir = g_dir_open (task_dir, 0, NULL);
  const char *name;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (task_dir, name, "status", NULL);
      g_autofree char *text = NULL;
      gint64 *counts;

      /* A thread that ended meanwhile keeps its last counts. */
      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      counts = g_new (gint64, 2);
      counts[0] = MAX (0, status_field (text, "\nvoluntary_ctxt_switches:"));
      counts[1] = MAX (0, status_field (text, "\nnonvoluntary_ctxt_switches:"));
      g_hash_table_insert (self->last, GINT_TO_POINTER (atoi (name)), counts);
    }
  return TRUE;
}

void
bench_switches_total (BenchSwitches *self,
                      gint64        *voluntary,
                      gint64        *involuntary)
{
  GHashTableIter iter;
  gpointer tid, counts;

  *voluntary = *involuntary = 0;
  g_hash_table_iter_init (&iter, self->last);
  while (g_hash_table_iter_next (&iter, &tid, &counts))
    {
      const gint64 *last = counts, *first = g_hash_table_lookup (self->first, tid);

      *voluntary += last[0] - (first != NULL ? first[0] : 0);
      *involuntary += last[1] - (first != NULL ? first[1] : 0);
    }
}

void
bench_switches_free (BenchSwitches *self)
{
  g_hash_table_unref (self->first);
  g_hash_table_unref (self->last);
  g_free (self);
}

void
bench_program_env (void)
{
  g_setenv ("G_DEBUG", "fatal-criticals", TRUE);
}
