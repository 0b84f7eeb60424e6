/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-phone"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "companion-core.h"
#include "companion-json-line.h"
#include "companion-network.h"
#include "companion-pairing-payload.h"
#include "companion-qr-scanner.h"
#include "companion-state-dir.h"
#include "companion-version.h"

typedef struct
{
  char     *state_dir;
  gboolean  json;
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
               CompanionPairingPayload *payload)
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

static int
command_scan (PhoneOptions *options,
              const char   *image_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) symbols = NULL;
  g_autoptr(CompanionPairingPayload) payload = NULL;
  g_autofree char *state_dir = NULL;

  state_dir = companion_state_dir_ensure (options->state_dir, "companion-phone", &error);
  if (state_dir == NULL)
    return fail (options, g_steal_pointer (&error));

  symbols = companion_qr_scanner_scan_file (image_path, &error);
  if (symbols == NULL)
    return fail (options, g_steal_pointer (&error));

  payload = companion_pairing_payload_parse_scanned (symbols, &error);
  if (payload == NULL)
    return fail (options, g_steal_pointer (&error));

  print_payload (options, payload);
  return 0;
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
    { NULL }
  };

  setlocale (LC_ALL, "");

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
      return 2;
    }

  if (g_str_equal (command, "scan"))
    {
      if (g_strv_length (args) != 2)
        {
          fprintf (stderr, "companion-phone scan: give exactly one IMAGE to scan\n");
          g_free (options.state_dir);
          return 2;
        }
      status = command_scan (&options, args[1]);
    }
  else
    {
      status = fail (&options, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                                    "This phone is not paired with a desktop: "
                                                    "run “companion-phone scan IMAGE” first"));
    }

  g_free (options.state_dir);
  return status;
}
