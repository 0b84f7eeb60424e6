/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-cli"

#include "config.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <locale.h>
#include <sodium.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "companion-command-reader.h"
#include "companion-core.h"
#include "companion-desktop-server.h"
#include "companion-desktop-sync.h"
#include "companion-media-transfer.h"
#include "companion-mirror-store.h"
#include "companion-record.h"
#include "companion-json-line.h"
#include "companion-network.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-secret-key-store.h"
#include "companion-settings.h"
#include "companion-state-dir.h"
#include "companion-version.h"

/* Pixels a module in --qr-png: large enough for any camera or scanner. */
#define QR_PNG_SCALE 8

typedef struct
{
  char     *state_dir;
  char     *listen;
  char     *qr_png;
  gboolean  json;
} CliOptions;

static void
cli_options_clear (CliOptions *options)
{
  g_clear_pointer (&options->state_dir, g_free);
  g_clear_pointer (&options->listen, g_free);
  g_clear_pointer (&options->qr_png, g_free);
}

static int
fail (CliOptions *options,
      GError     *error)
{
  if (options->json)
    {
      JsonBuilder *builder = companion_json_line_begin ("error");

      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, error->message);
      companion_json_line_print (builder);
      g_object_unref (builder);
    }
  fprintf (stderr, "companion-cli: %s\n", error->message);
  g_error_free (error);
  return 1;
}

static gboolean
on_stop_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

/* The desktop engine as a command-line program: one server, its events
 * printed as text or JSON lines. */
typedef struct
{
  CliOptions             *options;
  CompanionDesktopServer *server;
  GMainLoop              *loop;
  CompanionMirrorStore   *mirror;
  CompanionDesktopSync   *sync;
  CompanionMediaTransfer *media;
  gint64                  counted_at; /* monotonic µs of the last counts shown */
  gboolean                pairing;  /* `pair`: show codes until paired */
  guint                   copying;  /* send-file commands still copying their file */
  int                     status;
} Engine;

static void
on_quit_command (CompanionCommandReader *reader,
                 const char             *type,
                 JsonObject             *command,
                 Engine                 *engine)
{
  g_main_loop_quit (engine->loop);
}

static void
on_unlink_command (CompanionCommandReader *reader,
                   const char             *type,
                   JsonObject             *command,
                   Engine                 *engine)
{
  g_autoptr(GError) error = NULL;

  /* "unlinked" ends the loop. */
  if (!companion_desktop_server_unlink (engine->server, &error))
    fprintf (stderr, "companion-cli: %s\n", error->message);
}

static void print_event (const char *event,
                         const char *key,
                         const char *value);

/* stdin commands that ask the phone to act, by the phone event each
 * becomes; the other fields of the command are the event's fields. */
static const struct
{
  const char *command;
  const char *event;
} phone_commands[] = {
  { "send", "message-out" },
  { "mark-read", "read" },
  { "react", "react" },
  { "delete", "delete" },
  { "edit", "edit" },
};

static void
on_phone_command (CompanionCommandReader *reader,
                  const char             *type,
                  JsonObject             *command,
                  Engine                 *engine)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = NULL;
  const char *event = NULL;
  GList *members;

  for (gsize i = 0; i < G_N_ELEMENTS (phone_commands); i++)
    if (g_str_equal (type, phone_commands[i].command))
      event = phone_commands[i].event;
  g_assert (event != NULL);

  members = json_object_get_members (command);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "type"))
      json_object_set_member (fields, l->data, json_node_copy (json_object_get_member (command, l->data)));
  g_list_free (members);

  client_id = companion_desktop_sync_queue_command (engine->sync, event, fields, &error);
  if (client_id == NULL)
    {
      if (engine->options->json)
        print_event ("command-failed", "reason", error->message);
      else
        fprintf (stderr, "companion-cli: %s\n", error->message);
      return;
    }
  if (engine->options->json)
    print_event ("command-queued", "client_id", client_id);
}

static gboolean progress_due (const char *key,
                              gboolean    last_one);
static GHashTable *media_printed;  /* see progress_due () */

static void
print_command_failed (Engine     *engine,
                      const char *client_id,
                      GError     *error)
{
  if (engine->options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("command-failed");

      if (client_id != NULL)
        {
          json_builder_set_member_name (builder, "client_id");
          json_builder_add_string_value (builder, client_id);
        }
      json_builder_set_member_name (builder, "reason");
      json_builder_add_string_value (builder, error->message);
      companion_json_line_print (builder);
    }
  else
    fprintf (stderr, "companion-cli: %s\n", error->message);
}

static void
on_file_queued (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Engine *engine = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = NULL;

  engine->copying--;
  client_id = companion_desktop_sync_send_file_finish (COMPANION_DESKTOP_SYNC (source), result, &error);
  if (client_id == NULL)
    print_command_failed (engine, NULL, error);
  else if (engine->options->json)
    print_event ("command-queued", "client_id", client_id);
}

/* {"type":"send-file","chat":ID,"path":PATH,"caption":TEXT?} */
static void
on_send_file_command (CompanionCommandReader *reader,
                      const char             *type,
                      JsonObject             *command,
                      Engine                 *engine)
{
  static const char * const members[] = { "type", "chat", "path", "caption", NULL };
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  const char *chat = NULL, *path = NULL, *caption = NULL;
  GList *names = json_object_get_members (command);
  gboolean well_formed = TRUE;

  for (GList *l = names; l != NULL; l = l->next)
    {
      JsonNode *node = json_object_get_member (command, l->data);

      if (!g_strv_contains (members, l->data) ||
          (!JSON_NODE_HOLDS_NULL (node) &&
           (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)))
        well_formed = FALSE;
    }
  g_list_free (names);
  if (well_formed)
    {
      chat = json_object_get_string_member_with_default (command, "chat", NULL);
      path = json_object_get_string_member_with_default (command, "path", NULL);
      caption = json_object_get_string_member_with_default (command, "caption", NULL);
    }
  if (chat == NULL || path == NULL || *path == '\0')
    {
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                   "send-file takes “chat” and “path”, and optionally “caption”, as strings");
      print_command_failed (engine, NULL, error);
      return;
    }
  file = g_file_new_for_path (path);
  engine->copying++;
  companion_desktop_sync_send_file_async (engine->sync, chat, file, caption, NULL, on_file_queued, engine);
}

static void
on_upload_progress (CompanionDesktopSync *sync,
                    const char           *client_id,
                    guint64               sent,
                    guint64               size,
                    Engine               *engine)
{
  g_autoptr(JsonBuilder) builder = NULL;

  if (!engine->options->json || !progress_due (client_id, sent == size))
    return;
  builder = companion_json_line_begin ("upload-progress");
  json_builder_set_member_name (builder, "client_id");
  json_builder_add_string_value (builder, client_id);
  json_builder_set_member_name (builder, "sent");
  json_builder_add_int_value (builder, (gint64) sent);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) size);
  companion_json_line_print (builder);
}

/* {"type":"download","hash":HASH}: fetches a media file from the phone
 * whatever its size; "media-progress" and "media-complete" follow. */
static void
on_download_command (CompanionCommandReader *reader,
                     const char             *type,
                     JsonObject             *command,
                     Engine                 *engine)
{
  g_autoptr(GError) error = NULL;
  JsonNode *hash = json_object_get_member (command, "hash");

  if (hash == NULL || !JSON_NODE_HOLDS_VALUE (hash) || json_node_get_value_type (hash) != G_TYPE_STRING)
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "download: “hash” must be the media's hash");
  else
    companion_media_transfer_request (engine->media, json_node_get_string (hash), &error);

  if (error != NULL)
    print_command_failed (engine, NULL, error);
  else if (engine->options->json)
    print_event ("download-queued", "hash", json_node_get_string (hash));
}

static void
on_command_done (CompanionDesktopSync *sync,
                 const char           *client_id,
                 Engine               *engine)
{
  if (media_printed != NULL)
    g_hash_table_remove (media_printed, client_id);
  if (engine->options->json)
    print_event ("command-done", "client_id", client_id);
}

static void
on_command_failed (CompanionDesktopSync *sync,
                   const char           *client_id,
                   GError               *error,
                   Engine               *engine)
{
  if (media_printed != NULL)
    g_hash_table_remove (media_printed, client_id);
  print_command_failed (engine, client_id, error);
}

static void
print_event (const char *event,
             const char *key,
             const char *value)
{
  g_autoptr(JsonBuilder) builder = companion_json_line_begin (event);

  if (key != NULL)
    {
      json_builder_set_member_name (builder, key);
      json_builder_add_string_value (builder, value);
    }
  companion_json_line_print (builder);
}

static void
show_offer (Engine                *engine,
            CompanionPairingOffer *offer)
{
  CliOptions *options = engine->options;
  CompanionPairingPayload *payload = companion_pairing_offer_get_payload (offer);
  g_autoptr(CompanionQrCode) code = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = companion_pairing_payload_to_string (payload);
  gint64 expires_in = (companion_desktop_server_get_offer_expires_at (engine->server) -
                       g_get_monotonic_time ()) / G_USEC_PER_SEC;

  code = companion_qr_code_new (text, &error);
  sodium_memzero (text, strlen (text));
  if (code == NULL ||
      (options->qr_png != NULL && !companion_qr_code_write_png (code, options->qr_png, QR_PNG_SCALE, &error)))
    {
      engine->status = fail (options, g_steal_pointer (&error));
      g_main_loop_quit (engine->loop);
      return;
    }

  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("qr");
      g_autofree char *key_fp = companion_pairing_payload_dup_key_fingerprint (payload);

      json_builder_set_member_name (builder, "version");
      json_builder_add_int_value (builder, companion_pairing_payload_get_version (payload));
      json_builder_set_member_name (builder, "key_fingerprint");
      json_builder_add_string_value (builder, key_fp);
      json_builder_set_member_name (builder, "qr_version");
      json_builder_add_int_value (builder, companion_qr_code_get_version (code));
      json_builder_set_member_name (builder, "expires_in");
      json_builder_add_int_value (builder, expires_in);
      if (options->qr_png != NULL)
        {
          json_builder_set_member_name (builder, "png");
          json_builder_add_string_value (builder, options->qr_png);
        }
      companion_json_line_print (builder);
    }
  else
    {
      g_autofree char *terminal = companion_qr_code_to_terminal_text (code, isatty (STDOUT_FILENO));

      printf ("%s", terminal);
      printf ("Scan this code with the Companion app on your phone. "
              "It changes in %" G_GINT64_FORMAT " s.\n", expires_in);
      if (options->qr_png != NULL)
        printf ("The code is also in %s\n", options->qr_png);
      fflush (stdout);
    }
}

static void
on_offer_changed (CompanionDesktopServer *server,
                  CompanionPairingOffer  *offer,
                  Engine                 *engine)
{
  if (offer != NULL && engine->pairing)
    show_offer (engine, offer);
}

static void
on_paired (CompanionDesktopServer *server,
           const char             *phone_name,
           const char             *safety_code,
           Engine                 *engine)
{
  engine->pairing = FALSE;
  /* The image holds a secret that is now used up. */
  if (engine->options->qr_png != NULL)
    g_unlink (engine->options->qr_png);

  if (engine->options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("paired");

      json_builder_set_member_name (builder, "phone");
      json_builder_add_string_value (builder, phone_name);
      json_builder_set_member_name (builder, "safety_code");
      json_builder_add_string_value (builder, safety_code);
      companion_json_line_print (builder);
    }
  else
    {
      printf ("Linked with “%s”. Safety code: %.3s %s — check that the phone shows the same.\n",
              phone_name, safety_code, safety_code + 3);
      fflush (stdout);
    }
}

static void
on_connected (CompanionDesktopServer *server,
              const char             *phone_name,
              Engine                 *engine)
{
  if (engine->options->json)
    print_event ("connected", "phone", phone_name);
  else
    {
      printf ("“%s” is connected.\n", phone_name);
      fflush (stdout);
    }
}

static void
on_disconnected (CompanionDesktopServer *server,
                 GError                 *error,
                 Engine                 *engine)
{
  const char *reason = error != NULL ? error->message : "closed";

  if (engine->options->json)
    print_event ("disconnected", "reason", reason);
  else
    {
      printf ("The phone disconnected: %s\n", reason);
      fflush (stdout);
    }
}

static void
on_unlinked (CompanionDesktopServer *server,
             gboolean                by_phone,
             Engine                 *engine)
{
  if (engine->options->json)
    print_event ("unlinked", "by", by_phone ? "phone" : "desktop");
  else
    {
      printf ("The phone was unlinked%s.\n", by_phone ? " from the phone" : "");
      fflush (stdout);
    }
  g_main_loop_quit (engine->loop);
}

static void
on_attempt_failed (CompanionDesktopServer *server,
                   GError                 *error,
                   Engine                 *engine)
{
  /* Refused connections are the other side's problem: report, go on. */
  if (engine->options->json)
    print_event ("refused", "reason", error->message);
  else
    fprintf (stderr, "companion-cli: refused a connection: %s\n", error->message);
}

static void
on_sync_progress (CompanionDesktopSync *sync,
                  const char           *entity,
                  guint                 records,
                  Engine               *engine)
{
  if (engine->options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("sync-progress");

      json_builder_set_member_name (builder, "entity");
      json_builder_add_string_value (builder, entity);
      json_builder_set_member_name (builder, "records");
      json_builder_add_int_value (builder, records);
      companion_json_line_print (builder);
    }
}

/* What the mirror holds, as status and sync progress show it. */
static const struct
{
  CompanionEntity entity;
  const char     *plural;
} counted[] = {
  { COMPANION_ENTITY_CHAT, "chats" },
  { COMPANION_ENTITY_MESSAGE, "messages" },
  { COMPANION_ENTITY_MEDIA, "media" },
  { COMPANION_ENTITY_CALL, "calls" },
  { COMPANION_ENTITY_CONTACT, "contacts" },
};

static void
count_mirror (CompanionMirrorStore *mirror,
              gint64               *counts)
{
  for (gsize i = 0; i < G_N_ELEMENTS (counted); i++)
    counts[i] = companion_mirror_store_count (mirror, counted[i].entity, NULL);
}

static void
add_counts (JsonBuilder  *builder,
            const gint64 *counts)
{
  for (gsize i = 0; i < G_N_ELEMENTS (counted); i++)
    {
      json_builder_set_member_name (builder, counted[i].plural);
      json_builder_add_int_value (builder, counts[i]);
    }
}

static char *
counts_text (const gint64 *counts)
{
  GString *text = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (counted); i++)
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT " %s", i > 0 ? ", " : "", counts[i], counted[i].plural);
  return g_string_free (text, FALSE);
}

/* Counting scans the tables: while a long catch-up commits batch after
 * batch, the counts come at most once a second, and always once up to date. */
#define COUNT_INTERVAL_US G_USEC_PER_SEC

static void
on_synced (CompanionDesktopSync *sync,
           guint64               cursor,
           Engine               *engine)
{
  gboolean up_to_date = companion_desktop_sync_is_up_to_date (sync);
  gint64 now = g_get_monotonic_time ();
  gboolean counting = up_to_date || now - engine->counted_at >= COUNT_INTERVAL_US;
  gint64 counts[G_N_ELEMENTS (counted)];
  g_autofree char *text = NULL;
  /* Stamped at the commit, before counting: latency is measured to here. */
  g_autoptr(JsonBuilder) builder = engine->options->json ? companion_json_line_begin ("synced") : NULL;

  if (counting)
    {
      count_mirror (engine->mirror, counts);
      engine->counted_at = now;
    }

  if (builder != NULL)
    {
      json_builder_set_member_name (builder, "cursor");
      json_builder_add_int_value (builder, (gint64) cursor);
      json_builder_set_member_name (builder, "up_to_date");
      json_builder_add_boolean_value (builder, up_to_date);
      if (counting)
        add_counts (builder, counts);
      companion_json_line_print (builder);
    }
  else if (counting)
    {
      text = counts_text (counts);
      printf ("Mirrored up to change %" G_GUINT64_FORMAT ": %s.\n", cursor, text);
      fflush (stdout);
    }
}

static void
on_sync_failed (CompanionDesktopSync *sync,
                GError               *error,
                Engine               *engine)
{
  if (engine->options->json)
    print_event ("sync-failed", "reason", error->message);
  else
    fprintf (stderr, "companion-cli: a sync batch was refused and not applied: %s\n", error->message);
}

/* Media and upload events: progress at most a few times a second per file;
 * media_printed: hash or client id → gint64 monotonic time of the last line. */

/* Whether a progress line for KEY is due now; the last one always is. */
static gboolean
progress_due (const char *key,
              gboolean    last_one)
{
  gint64 now = g_get_monotonic_time ();
  gpointer last = NULL;

  if (media_printed == NULL)
    media_printed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  last = g_hash_table_lookup (media_printed, key);
  if (last != NULL && !last_one && now - *(gint64 *) last < G_USEC_PER_SEC / 4)
    return FALSE;
  g_hash_table_insert (media_printed, g_strdup (key), g_memdup2 (&now, sizeof now));
  return TRUE;
}

static void
on_media_progress (CompanionMediaTransfer *media,
                   const char             *hash,
                   guint64                 received,
                   guint64                 size,
                   Engine                 *engine)
{
  g_autoptr(JsonBuilder) builder = NULL;

  if (!engine->options->json || !progress_due (hash, received == size))
    return;

  builder = companion_json_line_begin ("media-progress");
  json_builder_set_member_name (builder, "hash");
  json_builder_add_string_value (builder, hash);
  json_builder_set_member_name (builder, "received");
  json_builder_add_int_value (builder, (gint64) received);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) size);
  companion_json_line_print (builder);
}

static void
on_media_complete (CompanionMediaTransfer *media,
                   const char             *hash,
                   Engine                 *engine)
{
  if (media_printed != NULL)
    g_hash_table_remove (media_printed, hash);
  if (engine->options->json)
    print_event ("media-complete", "hash", hash);
}

static void
on_media_failed (CompanionMediaTransfer *media,
                 const char             *hash,
                 GError                 *error,
                 Engine                 *engine)
{
  if (media_printed != NULL)
    g_hash_table_remove (media_printed, hash);
  if (engine->options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("media-failed");

      json_builder_set_member_name (builder, "hash");
      json_builder_add_string_value (builder, hash);
      json_builder_set_member_name (builder, "reason");
      json_builder_add_string_value (builder, error->message);
      companion_json_line_print (builder);
    }
  else
    fprintf (stderr, "companion-cli: %s\n", error->message);
}

static CompanionDesktopServer *
open_server (CliOptions         *options,
             char              **state_dir_out,
             CompanionKeyStore **key_store_out,
             GError            **error)
{
  g_autofree char *state_dir = NULL;
  g_autoptr(CompanionKeyStore) key_store = NULL;
  gboolean fallback = FALSE;
  CompanionDesktopServer *server;

  state_dir = companion_state_dir_ensure (options->state_dir, "companion", error);
  if (state_dir == NULL)
    return NULL;
  key_store = companion_key_store_open_desktop (state_dir, &fallback, error);
  if (key_store == NULL)
    return NULL;
  if (fallback)
    fprintf (stderr, "companion-cli: warning: no Secret Service is available; this desktop's key "
             "is kept in %s instead\n", companion_key_store_describe (key_store));
  server = companion_desktop_server_new (state_dir, key_store, error);
  if (state_dir_out != NULL)
    *state_dir_out = g_steal_pointer (&state_dir);
  if (key_store_out != NULL)
    *key_store_out = g_steal_pointer (&key_store);
  return server;
}

static int
run_engine (CliOptions *options,
            gboolean    pairing)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) listen = NULL;
  g_autoptr(CompanionDesktopServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(GString) listing = g_string_new (NULL);
  g_autoptr(GInputStream) stdin_stream = NULL;
  g_autoptr(CompanionCommandReader) commands = NULL;
  g_autoptr(CompanionMirrorStore) mirror = NULL;
  g_autoptr(CompanionDesktopSync) sync = NULL;
  g_autoptr(GSettings) settings = NULL;
  g_autoptr(CompanionMediaTransfer) media = NULL;
  g_autofree char *state_dir = NULL;
  Engine engine = { 0 };
  guint sigint_id, sigterm_id;

  /* Arguments first: nothing touches the disk for a bad command line. */
  if (options->listen != NULL)
    {
      listen = companion_network_parse_listen_address (options->listen, &error);
      if (listen == NULL)
        return fail (options, g_steal_pointer (&error));
    }

  server = open_server (options, &state_dir, NULL, &error);
  if (server == NULL)
    return fail (options, g_steal_pointer (&error));
  mirror = companion_mirror_store_open (state_dir, &error);
  if (mirror == NULL)
    return fail (options, g_steal_pointer (&error));

  if (pairing && companion_desktop_server_is_paired (server))
    return fail (options, g_error_new (G_IO_ERROR, G_IO_ERROR_EXISTS,
                                       "This desktop is already linked to “%s”: run “companion-cli "
                                       "unlink” first, or “companion-cli run” to mirror it",
                                       companion_desktop_server_get_phone_name (server)));
  if (!pairing && !companion_desktop_server_is_paired (server))
    return fail (options, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                               "This desktop is not paired with a phone: "
                                               "run “companion-cli pair” first"));

  loop = g_main_loop_new (NULL, FALSE);
  engine.options = options;
  engine.server = server;
  engine.loop = loop;
  engine.mirror = mirror;
  engine.pairing = FALSE;
  sync = companion_desktop_sync_new (server, mirror);
  engine.sync = sync;
  g_signal_connect (sync, "command-done", G_CALLBACK (on_command_done), &engine);
  g_signal_connect (sync, "command-failed", G_CALLBACK (on_command_failed), &engine);
  g_signal_connect (sync, "upload-progress", G_CALLBACK (on_upload_progress), &engine);
  g_signal_connect (sync, "progress", G_CALLBACK (on_sync_progress), &engine);
  g_signal_connect (sync, "synced", G_CALLBACK (on_synced), &engine);
  g_signal_connect (sync, "failed", G_CALLBACK (on_sync_failed), &engine);
  /* Media: partial ones resume, small ones come after each sync. */
  media = companion_media_transfer_new (server, mirror, sync);
  engine.media = media;
  /* The GUI's preference applies here too (default 16 MiB). */
  settings = companion_settings_new_if_installed ();
  if (settings != NULL)
    companion_media_transfer_set_auto_download_limit (media, (guint64) g_settings_get_int64 (settings,
                                                                                             "auto-download-limit"));
  g_signal_connect (media, "progress", G_CALLBACK (on_media_progress), &engine);
  g_signal_connect (media, "complete", G_CALLBACK (on_media_complete), &engine);
  g_signal_connect (media, "failed", G_CALLBACK (on_media_failed), &engine);
  g_signal_connect (server, "offer-changed", G_CALLBACK (on_offer_changed), &engine);
  g_signal_connect (server, "paired", G_CALLBACK (on_paired), &engine);
  g_signal_connect (server, "connected", G_CALLBACK (on_connected), &engine);
  g_signal_connect (server, "disconnected", G_CALLBACK (on_disconnected), &engine);
  g_signal_connect (server, "unlinked", G_CALLBACK (on_unlinked), &engine);
  g_signal_connect (server, "attempt-failed", G_CALLBACK (on_attempt_failed), &engine);

  /* Listening shows the first code through offer-changed. */
  if (!companion_desktop_server_listen (server, listen, &error))
    return fail (options, g_steal_pointer (&error));

  addresses = companion_desktop_server_dup_addresses (server);
  for (guint i = 0; i < addresses->len; i++)
    {
      g_autofree char *one = companion_network_address_to_string (g_ptr_array_index (addresses, i));
      g_string_append_printf (listing, "%s%s", i > 0 ? " " : "", one);
    }
  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("listening");

      json_builder_set_member_name (builder, "port");
      json_builder_add_int_value (builder, companion_desktop_server_get_port (server));
      json_builder_set_member_name (builder, "addresses");
      json_builder_add_string_value (builder, listing->str);
      companion_json_line_print (builder);
    }
  else
    {
      fprintf (stderr, "companion-cli: listening at %s\n", listing->str);
    }

  engine.pairing = pairing;
  if (pairing && companion_desktop_server_get_offer (server) != NULL)
    show_offer (&engine, companion_desktop_server_get_offer (server));

  stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  commands = companion_command_reader_new (stdin_stream);
  g_signal_connect (commands, "command::quit", G_CALLBACK (on_quit_command), &engine);
  g_signal_connect (commands, "command::unlink", G_CALLBACK (on_unlink_command), &engine);
  g_signal_connect (commands, "command::send-file", G_CALLBACK (on_send_file_command), &engine);
  g_signal_connect (commands, "command::download", G_CALLBACK (on_download_command), &engine);
  for (gsize i = 0; i < G_N_ELEMENTS (phone_commands); i++)
    {
      g_autofree char *detailed = g_strdup_printf ("command::%s", phone_commands[i].command);
      g_signal_connect (commands, detailed, G_CALLBACK (on_phone_command), &engine);
    }

  sigint_id = g_unix_signal_add (SIGINT, on_stop_signal, loop);
  sigterm_id = g_unix_signal_add (SIGTERM, on_stop_signal, loop);
  if (engine.status == 0)
    g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  companion_command_reader_stop (commands);
  g_signal_handlers_disconnect_by_data (commands, &engine);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  /* A file being copied finishes into the outbox: the callback needs ENGINE. */
  while (engine.copying > 0)
    g_main_context_iteration (NULL, TRUE);

  /* The image holds the pairing secret: it never outlives the program. */
  if (options->qr_png != NULL)
    g_unlink (options->qr_png);
  g_signal_handlers_disconnect_by_data (server, &engine);
  g_signal_handlers_disconnect_by_data (sync, &engine);
  g_signal_handlers_disconnect_by_data (media, &engine);
  g_clear_pointer (&media_printed, g_hash_table_unref);
  return engine.status;
}

static int
command_pair (CliOptions *options)
{
  return run_engine (options, TRUE);
}

static int
command_run (CliOptions *options)
{
  return run_engine (options, FALSE);
}

static int
command_status (CliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = NULL;
  g_autoptr(CompanionDesktopServer) server = open_server (options, &state_dir, NULL, &error);
  g_autoptr(CompanionMirrorStore) mirror = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autofree char *last_sync = NULL;
  gint64 counts[G_N_ELEMENTS (counted)];
  g_autofree char *text = NULL;
  gint64 last_sync_time;
  const char *phone;

  if (server == NULL)
    return fail (options, g_steal_pointer (&error));
  mirror = companion_mirror_store_open (state_dir, &error);
  if (mirror == NULL)
    return fail (options, g_steal_pointer (&error));
  outbox = companion_mirror_store_outbox_list (mirror, &error);
  if (outbox == NULL)
    return fail (options, g_steal_pointer (&error));
  count_mirror (mirror, counts);
  phone = companion_desktop_server_get_phone_name (server);
  last_sync_time = companion_mirror_store_get_last_sync (mirror);
  if (last_sync_time > 0)
    {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (last_sync_time / 1000);
      last_sync = when != NULL ? g_date_time_format (when, "%F %T") : NULL;
    }

  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("status");

      json_builder_set_member_name (builder, "paired");
      json_builder_add_boolean_value (builder, phone != NULL);
      if (phone != NULL)
        {
          json_builder_set_member_name (builder, "phone");
          json_builder_add_string_value (builder, phone);
        }
      json_builder_set_member_name (builder, "state_dir");
      json_builder_add_string_value (builder, state_dir);
      json_builder_set_member_name (builder, "cursor");
      json_builder_add_int_value (builder, (gint64) companion_mirror_store_get_cursor (mirror));
      json_builder_set_member_name (builder, "last_sync");
      json_builder_add_int_value (builder, last_sync_time);
      json_builder_set_member_name (builder, "outbox");
      json_builder_add_int_value (builder, outbox->len);
      add_counts (builder, counts);
      companion_json_line_print (builder);
      return 0;
    }

  if (phone != NULL)
    printf ("Paired with “%s”.\n", phone);
  else
    printf ("Not paired with a phone.\n");
  text = counts_text (counts);
  printf ("Mirror: %s; up to change %" G_GUINT64_FORMAT "%s%s.\n", text,
          companion_mirror_store_get_cursor (mirror),
          last_sync != NULL ? ", last synced " : "", last_sync != NULL ? last_sync : "");
  if (outbox->len > 0)
    printf ("%u command%s waiting for the phone.\n", outbox->len, outbox->len == 1 ? "" : "s");
  printf ("State folder: %s\n", state_dir);
  return 0;
}

static int
command_unlink (CliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionKeyStore) key_store = NULL;
  g_autofree char *state_dir = NULL;
  g_autoptr(CompanionDesktopServer) server = open_server (options, &state_dir, &key_store, &error);
  g_autofree char *phone = NULL;

  /* A linked desktop that lost its key can still be unlinked. */
  if (server == NULL && g_error_matches (error, COMPANION_DESKTOP_SERVER_ERROR,
                                         COMPANION_DESKTOP_SERVER_ERROR_IDENTITY_MISSING))
    {
      g_clear_error (&error);
      if (!companion_desktop_server_unlink_offline (state_dir, key_store, &error))
        return fail (options, g_steal_pointer (&error));
      printf ("Unlinked the phone. Pair again with a new code.\n");
      return 0;
    }
  if (server == NULL)
    return fail (options, g_steal_pointer (&error));
  phone = g_strdup (companion_desktop_server_get_phone_name (server));
  if (!companion_desktop_server_unlink (server, &error))
    return fail (options, g_steal_pointer (&error));

  if (options->json)
    print_event ("unlinked", "phone", phone);
  else
    printf ("Unlinked “%s”. It is refused from now on; pair again with a new code.\n", phone);
  return 0;
}

static int
command_export (CliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionMirrorStore) mirror = NULL;
  g_autoptr(CompanionExport) export = NULL;
  g_autofree char *state_dir = companion_state_dir_ensure (options->state_dir, "companion", &error);
  g_autofree char *text = NULL;
  gsize length = 0;

  if (state_dir == NULL)
    return fail (options, g_steal_pointer (&error));
  mirror = companion_mirror_store_open (state_dir, &error);
  if (mirror == NULL)
    return fail (options, g_steal_pointer (&error));
  export = companion_mirror_store_export (mirror, &error);
  if (export == NULL)
    return fail (options, g_steal_pointer (&error));
  text = companion_export_to_string (export, &length);
  if (fwrite (text, 1, length, stdout) != length || fflush (stdout) != 0)
    return fail (options, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot write the export"));
  return 0;
}

typedef struct
{
  const char *name;
  const char *summary;
  gboolean    takes_listen;
  gboolean    takes_qr_png;
  int       (*run) (CliOptions *options);
} Command;

static const Command commands[] = {
  { "pair",   "Show a QR code (terminal and PNG), pair, then mirror until interrupted", TRUE, TRUE, command_pair },
  { "run",    "Mirror the paired phone until interrupted", TRUE, FALSE, command_run },
  { "export", "Print the mirror as canonical JSON", FALSE, FALSE, command_export },
  { "status", "Show the pairing and sync state", FALSE, FALSE, command_status },
  { "unlink", "Unlink the paired phone", FALSE, FALSE, command_unlink },
};

static void
print_usage (FILE *stream)
{
  fprintf (stream, "Usage: companion-cli COMMAND [OPTION…]\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (stream, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (stream, "\nRun “companion-cli COMMAND --help” for the options of a command.\n");
}

int
main (int   argc,
      char *argv[])
{
  g_auto(GStrv) args = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  gboolean show_version = FALSE;
  CliOptions options = { 0 };
  const Command *command = NULL;
  int status;
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &options.state_dir, "State folder", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json, "Print JSON-line events on stdout", NULL },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &options.listen, "Listen at ADDR:PORT", "ADDR:PORT" },
    { "qr-png", 0, 0, G_OPTION_ARG_FILENAME, &options.qr_png, "Also write the QR code to FILE (PNG)", "FILE" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  /* stdout carries the program's output (JSON lines with --json); every
   * log message, debug ones included, goes to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);

  if (!companion_core_init (&error))
    return fail (&options, g_steal_pointer (&error));

  if (argc >= 2 && (g_str_equal (argv[1], "--version") || g_str_equal (argv[1], "-V")))
    show_version = TRUE;
  if (show_version)
    {
      printf ("companion-cli %s\n", COMPANION_VCS_VERSION);
      return 0;
    }
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      print_usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      command = &commands[i];
  if (command == NULL)
    {
      fprintf (stderr, "companion-cli: unknown command “%s”\n", argv[1]);
      print_usage (stderr);
      return 2;
    }

  if (!command->takes_qr_png)
    entries[3].long_name = NULL;
  if (!command->takes_listen)
    {
      entries[2] = entries[3];
      entries[3].long_name = NULL;
    }

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, command->summary);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_strict_posix (context, FALSE);

  /* argv[0] becomes "companion-cli COMMAND" in --help. */
  args = g_new0 (char *, argc);
  args[0] = g_strdup_printf ("companion-cli %s", command->name);
  for (int i = 2; i < argc; i++)
    args[i - 1] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (context, &args, &error))
    {
      fprintf (stderr, "companion-cli %s: %s\n", command->name, error->message);
      cli_options_clear (&options);
      return 2;
    }
  if (g_strv_length (args) > 1)
    {
      fprintf (stderr, "companion-cli %s: unexpected argument “%s”\n", command->name, args[1]);
      cli_options_clear (&options);
      return 2;
    }

  status = command->run (&options);
  cli_options_clear (&options);
  return status;
}
