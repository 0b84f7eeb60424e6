/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-cli"

#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "companion-core.h"
#include "companion-json-line.h"
#include "companion-network.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
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

/* The addresses the QR publishes: the --listen address when it names one,
 * otherwise every LAN address at the listen port. */
static GPtrArray *
pairing_addresses (const char *listen,
                   GError    **error)
{
  g_autoptr(GInetSocketAddress) address = NULL;
  guint16 port = COMPANION_DEFAULT_PORT;

  if (listen != NULL)
    {
      address = companion_network_parse_listen_address (listen, error);
      if (address == NULL)
        return NULL;
      port = g_inet_socket_address_get_port (address);
      if (port == 0)
        port = COMPANION_DEFAULT_PORT;
      if (!g_inet_address_get_is_any (g_inet_socket_address_get_address (address)))
        {
          GPtrArray *one = g_ptr_array_new_with_free_func (g_object_unref);
          g_ptr_array_add (one, g_inet_socket_address_new (
                               g_inet_socket_address_get_address (address), port));
          return one;
        }
    }
  return companion_network_lan_addresses (port);
}

static gboolean
on_stop_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static int
command_pair (CliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(CompanionPairingOffer) offer = NULL;
  g_autoptr(CompanionQrCode) code = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *text = NULL;
  CompanionPairingPayload *payload;
  guint sigint_id, sigterm_id;

  /* Arguments first: nothing touches the disk for a bad command line. */
  addresses = pairing_addresses (options->listen, &error);
  if (addresses == NULL)
    return fail (options, g_steal_pointer (&error));

  state_dir = companion_state_dir_ensure (options->state_dir, "companion", &error);
  if (state_dir == NULL)
    return fail (options, g_steal_pointer (&error));

  offer = companion_pairing_offer_new (addresses, &error);
  if (offer == NULL)
    return fail (options, g_steal_pointer (&error));
  payload = companion_pairing_offer_get_payload (offer);

  text = companion_pairing_payload_to_string (payload);
  code = companion_qr_code_new (text, &error);
  memset (text, 0, strlen (text));
  if (code == NULL)
    return fail (options, g_steal_pointer (&error));

  if (options->qr_png != NULL && !companion_qr_code_write_png (code, options->qr_png, QR_PNG_SCALE, &error))
    return fail (options, g_steal_pointer (&error));

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
      printf ("Scan this code with the Companion app on your phone.\n");
      if (options->qr_png != NULL)
        printf ("The code is also in %s\n", options->qr_png);
      fflush (stdout);
    }

  /* Stays up until interrupted, as the phone may take its time to scan. */
  loop = g_main_loop_new (NULL, FALSE);
  sigint_id = g_unix_signal_add (SIGINT, on_stop_signal, loop);
  sigterm_id = g_unix_signal_add (SIGTERM, on_stop_signal, loop);
  g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  /* The image holds the pairing secret: it never outlives the program. */
  if (options->qr_png != NULL)
    g_unlink (options->qr_png);
  return 0;
}

static int
command_status (CliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = companion_state_dir_ensure (options->state_dir, "companion", &error);

  if (state_dir == NULL)
    return fail (options, g_steal_pointer (&error));

  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("status");

      json_builder_set_member_name (builder, "paired");
      json_builder_add_boolean_value (builder, FALSE);
      json_builder_set_member_name (builder, "state_dir");
      json_builder_add_string_value (builder, state_dir);
      companion_json_line_print (builder);
    }
  else
    printf ("Not paired with a phone.\nState folder: %s\n", state_dir);
  return 0;
}

static int
command_needs_pairing (CliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = companion_state_dir_ensure (options->state_dir, "companion", &error);

  if (state_dir == NULL)
    return fail (options, g_steal_pointer (&error));
  return fail (options, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                     "This desktop is not paired with a phone: "
                                     "run “companion-cli pair” first"));
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
  { "run",    "Mirror the paired phone until interrupted", TRUE, FALSE, command_needs_pairing },
  { "export", "Print the mirror as canonical JSON", FALSE, FALSE, command_needs_pairing },
  { "status", "Show the pairing and sync state", FALSE, FALSE, command_status },
  { "unlink", "Unlink the paired phone", FALSE, FALSE, command_needs_pairing },
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
