/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-json-line"

#include "config.h"

#include <stdio.h>

#include "companion-json-line.h"

JsonBuilder *
companion_json_line_begin (const char *event)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  /* CLOCK_MONOTONIC is shared by all processes: timings across programs. */
  json_builder_set_member_name (builder, "monotonic_us");
  json_builder_add_int_value (builder, g_get_monotonic_time ());
  return builder;
}

void
companion_json_line_print (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  fprintf (stdout, "%s\n", text);
  fflush (stdout);
}
