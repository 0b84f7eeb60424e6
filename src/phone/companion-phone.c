/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-phone"

#include "config.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "companion-command-reader.h"
#include "companion-core.h"
#include "companion-fixture.h"
#include "companion-generator.h"
#include "companion-json-line.h"
#include "companion-media-sender.h"
#include "companion-network.h"
#include "companion-pairing-payload.h"
#include "companion-phone-client.h"
#include "companion-phone-events.h"
#include "companion-phone-store.h"
#include "companion-phone-sync.h"
#include "companion-qr-scanner.h"
#include "companion-state-dir.h"
#include "companion-version.h"

typedef struct
{
  char     *state_dir;
  char     *name;
  char     *generate;
  char     *fixture;
  gboolean  json;
  double    events_rate;  /* --events RATE; 0: none */
  gint64    seed;         /* --seed N for --events; -1: not given (1) */
  gboolean  trace_events; /* --trace-events: a line per batch of --events */
} PhoneOptions;

static int
fail (PhoneOptions *options,
      GError       *error)
{
  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("error");

      json_builder_set_member_name (builder, "domain");
      json_builder_add_string_value (builder, g_quark_to_string (error->domain));
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, error->message);
      companion_json_line_print (builder);
    }
  fprintf (stderr, "companion-phone: %s\n", error->message);
  g_error_free (error);
  return 1;
}

static void
print_payload (PhoneOptions            *options,
               CompanionPairingPayload *payload,
               double                   decode_ms)
{
  GPtrArray *addresses = companion_pairing_payload_get_addresses (payload);
  g_autofree char *key_fp = companion_pairing_payload_dup_key_fingerprint (payload);
  g_autofree char *psk_fp = companion_pairing_payload_dup_psk_fingerprint (payload);

  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("scanned");

      json_builder_set_member_name (builder, "version");
      json_builder_add_int_value (builder, companion_pairing_payload_get_version (payload));
      json_builder_set_member_name (builder, "key_fingerprint");
      json_builder_add_string_value (builder, key_fp);
      json_builder_set_member_name (builder, "secret_fingerprint");
      json_builder_add_string_value (builder, psk_fp);
      json_builder_set_member_name (builder, "addresses");
      json_builder_begin_array (builder);
      for (guint i = 0; i < addresses->len; i++)
        {
          g_autofree char *text = companion_network_address_to_string (g_ptr_array_index (addresses, i));
          json_builder_add_string_value (builder, text);
        }
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "decode_ms");
      json_builder_add_double_value (builder, decode_ms);
      companion_json_line_print (builder);
      return;
    }

  /* The secret itself is never printed, only a fingerprint of it. */
  printf ("Companion pairing code\n");
  printf ("  protocol version: %u\n", companion_pairing_payload_get_version (payload));
  printf ("  desktop key:      %s\n", key_fp);
  printf ("  secret:           [redacted] %s\n", psk_fp);
  for (guint i = 0; i < addresses->len; i++)
    {
      g_autofree char *text = companion_network_address_to_string (g_ptr_array_index (addresses, i));
      printf ("  address:          %s\n", text);
    }
  fflush (stdout);
}

/* The phone as a program: one client, its events printed as text or JSON
 * lines, commands read as JSON lines on stdin. */
typedef struct
{
  PhoneOptions         *options;
  CompanionPhoneClient *client;
  CompanionPhoneSync   *sync;
  CompanionPhoneEvents *events;
  GMainLoop            *loop;
  int                   status;
} Phone;

static void
phone_event (Phone      *phone,
             const char *event,
             const char *key1,
             const char *value1,
             const char *key2,
             const char *value2)
{
  g_autoptr(JsonBuilder) builder = companion_json_line_begin (event);

  if (key1 != NULL)
    {
      json_builder_set_member_name (builder, key1);
      json_builder_add_string_value (builder, value1);
    }
  if (key2 != NULL)
    {
      json_builder_set_member_name (builder, key2);
      json_builder_add_string_value (builder, value2);
    }
  companion_json_line_print (builder);
}

static void
on_paired (CompanionPhoneClient *client,
           const char           *desktop_name,
           const char           *safety_code,
           Phone                *phone)
{
  if (phone->options->json)
    phone_event (phone, "paired", "desktop", desktop_name, "safety_code", safety_code);
  else
    {
      printf ("Linked with “%s”. Safety code: %.3s %s — check that the desktop shows the same.\n",
              desktop_name, safety_code, safety_code + 3);
      fflush (stdout);
    }
}

static void
on_connected (CompanionPhoneClient *client,
              const char           *desktop_name,
              Phone                *phone)
{
  if (phone->options->json)
    phone_event (phone, "connected", "desktop", desktop_name, NULL, NULL);
  else
    {
      printf ("Connected to “%s”.\n", desktop_name);
      fflush (stdout);
    }
}

static void
on_disconnected (CompanionPhoneClient *client,
                 GError               *error,
                 Phone                *phone)
{
  const char *reason = error != NULL ? error->message : "closed";

  /* Advisory: the desktop's reasons are unauthenticated, shown but not trusted. */
  if (phone->options->json)
    phone_event (phone, "disconnected", "reason", reason, NULL, NULL);
  else
    fprintf (stderr, "companion-phone: not connected: %s (retrying)\n", reason);
}

static void
on_pairing_failed (CompanionPhoneClient *client,
                   GError               *error,
                   Phone                *phone)
{
  phone->status = fail (phone->options, g_error_copy (error));
  g_main_loop_quit (phone->loop);
}

static void
on_unlinked (CompanionPhoneClient *client,
             gboolean              by_desktop,
             Phone                *phone)
{
  if (phone->options->json)
    phone_event (phone, "unlinked", "by", by_desktop ? "desktop" : "phone", NULL, NULL);
  else
    {
      printf ("Unlinked%s. Pair again with a new code.\n", by_desktop ? " by the desktop" : "");
      fflush (stdout);
    }
  g_main_loop_quit (phone->loop);
}

static void
on_quit_command (CompanionCommandReader *reader,
                 const char             *type,
                 JsonObject             *command,
                 Phone                  *phone)
{
  g_main_loop_quit (phone->loop);
}

static void
on_unlink_command (CompanionCommandReader *reader,
                   const char             *type,
                   JsonObject             *command,
                   Phone                  *phone)
{
  g_autoptr(GError) error = NULL;

  /* "unlinked" ends the loop. */
  if (!companion_phone_client_unlink (phone->client, &error))
    {
      phone->status = fail (phone->options, g_steal_pointer (&error));
      g_main_loop_quit (phone->loop);
    }
}

/* A live event from stdin ({"type": EVENT, …}, docs/phone-simulator.md):
 * applied whole or not at all, then sent to the desktop if connected. A bad
 * one is reported and the phone goes on. */
static void
on_event_command (CompanionCommandReader *reader,
                  const char             *type,
                  JsonObject             *command,
                  Phone                  *phone)
{
  g_autoptr(GError) error = NULL;
  guint64 seq = companion_phone_events_apply (phone->events, type, command, &error);

  if (seq == 0)
    {
      fail (phone->options, g_steal_pointer (&error));
      return;
    }
  companion_phone_sync_changes_added (phone->sync);
  if (phone->options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("event");

      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, type);
      json_builder_set_member_name (builder, "seq");
      json_builder_add_int_value (builder, (gint64) seq);
      companion_json_line_print (builder);
    }
  else
    {
      printf ("Event %s applied, up to change %" G_GUINT64_FORMAT ".\n", type, seq);
      fflush (stdout);
    }
}

/* {"type":"offline"} and {"type":"online"}: the network goes and comes back;
 * events go on accumulating meanwhile. */
static void
on_online_command (CompanionCommandReader *reader,
                   const char             *type,
                   JsonObject             *command,
                   Phone                  *phone)
{
  gboolean online = g_str_equal (type, "online");

  companion_phone_client_set_online (phone->client, online);
  if (phone->options->json)
    phone_event (phone, online ? "online" : "offline", NULL, NULL, NULL, NULL);
  else
    {
      printf ("%s.\n", online ? "Online: connecting" : "Offline: not connecting until “online”");
      fflush (stdout);
    }
}

static void
on_events_applied (CompanionPhoneEventSource *source,
                   guint64                    last_seq,
                   guint                      n_events,
                   Phone                     *phone)
{
  g_autoptr(JsonBuilder) builder = NULL;

  /* Stamped before the changes go out: latency is measured from here. */
  if (phone->options->trace_events && phone->options->json)
    builder = companion_json_line_begin ("events-applied");
  companion_phone_sync_changes_added (phone->sync);
  if (builder != NULL)
    {
      json_builder_set_member_name (builder, "seq");
      json_builder_add_int_value (builder, (gint64) last_seq);
      json_builder_set_member_name (builder, "events");
      json_builder_add_int_value (builder, n_events);
      companion_json_line_print (builder);
    }
}

static gboolean
on_stop_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static void
print_loaded (PhoneOptions *options,
              const char   *event,
              const char   *source,
              guint         contacts,
              guint         chats,
              guint         messages,
              guint         media,
              guint         calls,
              guint64       last_seq,
              double        seconds)
{
  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin (event);

      json_builder_set_member_name (builder, "source");
      json_builder_add_string_value (builder, source);
      json_builder_set_member_name (builder, "contacts");
      json_builder_add_int_value (builder, contacts);
      json_builder_set_member_name (builder, "chats");
      json_builder_add_int_value (builder, chats);
      json_builder_set_member_name (builder, "messages");
      json_builder_add_int_value (builder, messages);
      json_builder_set_member_name (builder, "media");
      json_builder_add_int_value (builder, media);
      json_builder_set_member_name (builder, "calls");
      json_builder_add_int_value (builder, calls);
      json_builder_set_member_name (builder, "last_seq");
      json_builder_add_int_value (builder, (gint64) last_seq);
      json_builder_set_member_name (builder, "seconds");
      json_builder_add_double_value (builder, seconds);
      companion_json_line_print (builder);
      return;
    }
  printf ("%s %s: %u contacts, %u chats, %u messages, %u media, %u calls in %.2f s\n",
          g_str_equal (event, "generated") ? "Generated" : "Loaded", source,
          contacts, chats, messages, media, calls, seconds);
  fflush (stdout);
}

/* --generate SPEC or --fixture FILE: the phone's data, before it pairs or
 * connects. Only into an empty store: nothing is ever merged. */
static gboolean
load_phone_data (PhoneOptions *options,
                 const char   *state_dir,
                 GError      **error)
{
  g_autoptr(CompanionPhoneStore) store = NULL;
  g_autoptr(GError) local_error = NULL;
  gint64 started;

  if (options->generate == NULL && options->fixture == NULL)
    return TRUE;

  store = companion_phone_store_open (state_dir, error);
  if (store == NULL)
    return FALSE;
  if (!companion_phone_store_is_empty (store, &local_error))
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_NOT_EMPTY,
                     "The phone in “%s” already has data: use a new --state-dir to %s",
                     state_dir, options->generate != NULL ? "generate" : "load a fixture");
      return FALSE;
    }

  started = g_get_monotonic_time ();
  if (options->generate != NULL)
    {
      CompanionGeneratorSpec spec;
      CompanionGeneratorCounts counts = { 0 };

      if (!companion_generator_parse_spec (options->generate, &spec, error) ||
          !companion_generator_run (store, &spec, &counts, error))
        return FALSE;
      print_loaded (options, "generated", options->generate, counts.contacts, counts.chats,
                    counts.messages, counts.media, counts.calls, counts.last_seq,
                    (g_get_monotonic_time () - started) / 1e6);
    }
  else
    {
      CompanionFixtureCounts counts = { 0 };

      if (!companion_fixture_load (store, options->fixture, &counts, error))
        return FALSE;
      print_loaded (options, "loaded", options->fixture, counts.contacts, counts.chats,
                    counts.messages, counts.media, counts.calls, counts.last_seq,
                    (g_get_monotonic_time () - started) / 1e6);
    }
  return TRUE;
}

static int
command_export (PhoneOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = NULL;
  g_autoptr(CompanionExport) export = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *text = NULL;
  gsize length = 0;

  state_dir = companion_state_dir_ensure (options->state_dir, "companion-phone", &error);
  if (state_dir == NULL)
    return fail (options, g_steal_pointer (&error));
  store = companion_phone_store_open (state_dir, &error);
  if (store == NULL)
    return fail (options, g_steal_pointer (&error));
  export = companion_phone_store_export (store, &error);
  if (export == NULL)
    return fail (options, g_steal_pointer (&error));
  text = companion_export_to_string (export, &length);
  if (fwrite (text, 1, length, stdout) != length || fflush (stdout) != 0)
    return fail (options, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                               "Cannot write the export on standard output"));
  return 0;
}

static int
run_phone (PhoneOptions            *options,
           CompanionPairingPayload *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneClient) client = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GInputStream) stdin_stream = NULL;
  g_autoptr(CompanionCommandReader) commands = NULL;
  g_autoptr(CompanionPhoneStore) store = NULL;
  g_autoptr(CompanionPhoneSync) sync = NULL;
  g_autoptr(CompanionPhoneEvents) events = NULL;
  g_autoptr(CompanionPhoneEventSource) event_source = NULL;
  const char * const *event_types = companion_phone_events_get_types ();
  g_autoptr(CompanionMediaSender) media = NULL;
  g_autofree char *state_dir = NULL;
  Phone phone = { 0 };
  guint sigint_id, sigterm_id;

  state_dir = companion_state_dir_ensure (options->state_dir, "companion-phone", &error);
  if (state_dir == NULL)
    return fail (options, g_steal_pointer (&error));
  client = companion_phone_client_new (state_dir, options->name, &error);
  if (client == NULL)
    return fail (options, g_steal_pointer (&error));

  if (payload != NULL && companion_phone_client_is_paired (client))
    return fail (options, g_error_new (G_IO_ERROR, G_IO_ERROR_EXISTS,
                                       "This phone is already linked to “%s”: unlink it first",
                                       companion_phone_client_get_desktop_name (client)));

  /* An unpaired "run" fails below before anything is loaded. */
  if ((payload != NULL || companion_phone_client_is_paired (client)) &&
      !load_phone_data (options, state_dir, &error))
    return fail (options, g_steal_pointer (&error));

  store = companion_phone_store_open (state_dir, &error);
  if (store == NULL)
    return fail (options, g_steal_pointer (&error));
  sync = companion_phone_sync_new (client, store);
  events = companion_phone_events_new (store, &error);
  if (events == NULL)
    return fail (options, g_steal_pointer (&error));
  if (options->events_rate > 0)
    {
      /* The timer only fires once the loop runs. */
      event_source = companion_phone_event_source_new (events, options->events_rate,
                                                       options->seed < 0 ? 1 : (guint32) options->seed);
      g_signal_connect (event_source, "applied", G_CALLBACK (on_events_applied), &phone);
      if (!companion_phone_event_source_start (event_source, &error))
        return fail (options, g_steal_pointer (&error));
    }
  media = companion_media_sender_new (client, store);

  loop = g_main_loop_new (NULL, FALSE);
  phone.options = options;
  phone.client = client;
  phone.sync = sync;
  phone.events = events;
  phone.loop = loop;
  g_signal_connect (client, "paired", G_CALLBACK (on_paired), &phone);
  g_signal_connect (client, "connected", G_CALLBACK (on_connected), &phone);
  g_signal_connect (client, "disconnected", G_CALLBACK (on_disconnected), &phone);
  g_signal_connect (client, "pairing-failed", G_CALLBACK (on_pairing_failed), &phone);
  g_signal_connect (client, "unlinked", G_CALLBACK (on_unlinked), &phone);

  if (payload != NULL)
    companion_phone_client_pair (client, payload);
  else if (!companion_phone_client_connect (client, &error))
    return fail (options, g_steal_pointer (&error));

  stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  commands = companion_command_reader_new (stdin_stream);
  g_signal_connect (commands, "command::quit", G_CALLBACK (on_quit_command), &phone);
  g_signal_connect (commands, "command::unlink", G_CALLBACK (on_unlink_command), &phone);
  g_signal_connect (commands, "command::offline", G_CALLBACK (on_online_command), &phone);
  g_signal_connect (commands, "command::online", G_CALLBACK (on_online_command), &phone);
  for (guint i = 0; event_types[i] != NULL; i++)
    {
      g_autofree char *signal = g_strconcat ("command::", event_types[i], NULL);
      g_signal_connect (commands, signal, G_CALLBACK (on_event_command), &phone);
    }

  sigint_id = g_unix_signal_add (SIGINT, on_stop_signal, loop);
  sigterm_id = g_unix_signal_add (SIGTERM, on_stop_signal, loop);
  g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  if (event_source != NULL)
    {
      companion_phone_event_source_stop (event_source);
      g_signal_handlers_disconnect_by_data (event_source, &phone);
    }
  companion_command_reader_stop (commands);
  g_signal_handlers_disconnect_by_data (commands, &phone);
  companion_phone_client_stop (client);
  g_signal_handlers_disconnect_by_data (client, &phone);
  /* Let the cancelled read and the close frame go out. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return phone.status;
}

static int
command_scan (PhoneOptions *options,
              const char   *image_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) symbols = NULL;
  g_autoptr(CompanionPairingPayload) payload = NULL;
  gint64 started = g_get_monotonic_time ();

  symbols = companion_qr_scanner_scan_file (image_path, &error);
  if (symbols == NULL)
    return fail (options, g_steal_pointer (&error));

  payload = companion_pairing_payload_parse_scanned (symbols, &error);
  if (payload == NULL)
    return fail (options, g_steal_pointer (&error));

  print_payload (options, payload, (g_get_monotonic_time () - started) / 1000.0);
  return run_phone (options, payload);
}

static void
print_usage (FILE *stream)
{
  fprintf (stream,
           "Usage: companion-phone COMMAND [OPTION…]\n\n"
           "Commands:\n"
           "  scan IMAGE  Decode the pairing QR code in IMAGE (PNG) and pair\n"
           "  run         Reconnect to the paired desktop\n"
           "  export      Print the phone's data as canonical JSON\n\n"
           "Run “companion-phone COMMAND --help” for the options of a command.\n");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) args = NULL;
  PhoneOptions options = { 0 };
  const char *command;
  int status;
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &options.state_dir, "State folder", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json, "Print JSON-line events on stdout", NULL },
    { "name", 0, 0, G_OPTION_ARG_STRING, &options.name, "The phone's name shown on the desktop", "NAME" },
    { "generate", 0, 0, G_OPTION_ARG_STRING, &options.generate,
      "Fill the empty phone with generated data (chats=N,messages=N,media=N,calls=N,seed=N)", "SPEC" },
    { "fixture", 0, 0, G_OPTION_ARG_FILENAME, &options.fixture,
      "Fill the empty phone from a JSON fixture (docs/fixture.md)", "FILE" },
    { "events", 0, 0, G_OPTION_ARG_DOUBLE, &options.events_rate,
      "Generate random live events, RATE a second (0 < RATE ≤ 5000)", "RATE" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &options.seed, "Seed of the --events traffic (default 1)", "N" },
    { "trace-events", 0, 0, G_OPTION_ARG_NONE, &options.trace_events,
      "With --json, print each batch of --events applied (its last change and time)", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  /* stdout carries the program's output (JSON lines with --json); every
   * log message, debug ones included, goes to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);
  options.seed = -1;

  if (!companion_core_init (&error))
    return fail (&options, g_steal_pointer (&error));

  if (argc >= 2 && (g_str_equal (argv[1], "--version") || g_str_equal (argv[1], "-V")))
    {
      printf ("companion-phone %s\n", COMPANION_VCS_VERSION);
      return 0;
    }
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      print_usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }

  command = argv[1];
  if (!g_str_equal (command, "scan") && !g_str_equal (command, "run") &&
      !g_str_equal (command, "export"))
    {
      fprintf (stderr, "companion-phone: unknown command “%s”\n", command);
      print_usage (stderr);
      return 2;
    }

  context = g_option_context_new (g_str_equal (command, "scan") ? "IMAGE" : NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  args = g_new0 (char *, argc);
  args[0] = g_strdup_printf ("companion-phone %s", command);
  for (int i = 2; i < argc; i++)
    args[i - 1] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (context, &args, &error))
    {
      fprintf (stderr, "companion-phone %s: %s\n", command, error->message);
      g_free (options.state_dir);
      g_free (options.name);
      g_free (options.generate);
      g_free (options.fixture);
      return 2;
    }

  if (options.generate != NULL && options.fixture != NULL)
    {
      fprintf (stderr, "companion-phone %s: --generate and --fixture cannot be used together\n", command);
      status = 2;
    }
  else if (g_str_equal (command, "export") && (options.generate != NULL || options.fixture != NULL ||
                                                 options.events_rate != 0 || options.seed != -1))
    {
      fprintf (stderr, "companion-phone export: --generate, --fixture, --events and --seed belong to scan and run\n");
      status = 2;
    }
  else if (options.events_rate != 0 &&
           !(options.events_rate > 0 && options.events_rate <= COMPANION_PHONE_EVENT_SOURCE_MAX_RATE))
    {
      fprintf (stderr, "companion-phone %s: --events must be more than 0 and at most %g a second\n",
               command, COMPANION_PHONE_EVENT_SOURCE_MAX_RATE);
      status = 2;
    }
  else if (options.seed != -1 && (options.seed < 0 || options.seed > G_MAXUINT32 || options.events_rate == 0))
    {
      fprintf (stderr, "companion-phone %s: --seed takes 0–4294967295 and goes with --events\n", command);
      status = 2;
    }
  else if (g_str_equal (command, "scan"))
    {
      if (g_strv_length (args) != 2)
        {
          fprintf (stderr, "companion-phone scan: give exactly one IMAGE to scan\n");
          status = 2;
        }
      else
        status = command_scan (&options, args[1]);
    }
  else if (g_str_equal (command, "run") && g_strv_length (args) == 1)
    status = run_phone (&options, NULL);
  else if (g_str_equal (command, "run"))
    {
      fprintf (stderr, "companion-phone run: unexpected argument “%s”\n", args[1]);
      status = 2;
    }
  else if (g_strv_length (args) == 1)
    status = command_export (&options);
  else
    {
      fprintf (stderr, "companion-phone export: unexpected argument “%s”\n", args[1]);
      status = 2;
    }

  g_free (options.state_dir);
  g_free (options.name);
  g_free (options.generate);
  g_free (options.fixture);
  return status;
}
