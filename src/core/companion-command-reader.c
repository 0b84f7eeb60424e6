/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-command-reader"

#include "config.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "companion-command-reader.h"

/* A command line longer than this is not a command. */
#define MAX_LINE 4096

struct _CompanionCommandReader
{
  GObject           parent_instance;

  GDataInputStream *input;
  GCancellable     *cancellable;
};

G_DEFINE_FINAL_TYPE (CompanionCommandReader, companion_command_reader, G_TYPE_OBJECT)

enum {
  SIGNAL_COMMAND,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void read_next (CompanionCommandReader *self);

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(CompanionCommandReader) self = user_data;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const char *type = NULL;
  JsonObject *object = NULL;
  JsonNode *root;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (line == NULL)
    return; /* end of input, cancelled or unreadable: stop reading */

  g_strstrip (line);
  parser = json_parser_new ();
  if (*line != '\0' && strlen (line) <= MAX_LINE &&
      json_parser_load_from_data (parser, line, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      object = json_node_get_object (root);
      type = json_object_get_string_member_with_default (object, "type", NULL);
    }

  if (type != NULL)
    g_signal_emit (self, signals[SIGNAL_COMMAND], g_quark_from_string (type), type, object);
  else if (*line != '\0')
    fprintf (stderr, "%s: ignoring a line that is not a JSON command such as {\"type\": \"quit\"}\n",
             g_get_prgname ());

  read_next (self);
}

static void
read_next (CompanionCommandReader *self)
{
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  g_data_input_stream_read_line_async (self->input, G_PRIORITY_DEFAULT, self->cancellable,
                                       on_line, g_object_ref (self));
}

static void
companion_command_reader_dispose (GObject *object)
{
  CompanionCommandReader *self = COMPANION_COMMAND_READER (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->input);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (companion_command_reader_parent_class)->dispose (object);
}

static void
companion_command_reader_class_init (CompanionCommandReaderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_command_reader_dispose;

  /* Detailed by the command's type: "command::quit". */
  signals[SIGNAL_COMMAND] =
    g_signal_new ("command", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_OBJECT);
}

static void
companion_command_reader_init (CompanionCommandReader *self)
{
  self->cancellable = g_cancellable_new ();
}

CompanionCommandReader *
companion_command_reader_new (GInputStream *stream)
{
  CompanionCommandReader *self;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);

  self = g_object_new (COMPANION_TYPE_COMMAND_READER, NULL);
  self->input = g_data_input_stream_new (stream);
  read_next (self);
  return self;
}

void
companion_command_reader_stop (CompanionCommandReader *self)
{
  g_return_if_fail (COMPANION_IS_COMMAND_READER (self));
  g_cancellable_cancel (self->cancellable);
}
