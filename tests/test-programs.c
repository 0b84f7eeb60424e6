/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <png.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "companion-base32.h"
#include "companion-core.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-qr-scanner.h"
#include "test-process.h"

/* Real processes: companion-cli and companion-phone from this build. */

/* The system data folders from before GTest isolated them: real programs
 * need the system's schemas and modules. */
static char *system_data_dirs;

static void
keyring_env (void)
{
  test_process_isolated_env (g_get_user_data_dir (), system_data_dirs);
}

typedef struct
{
  int   status;
  char *out;
  char *err;
} Result;

static void
result_clear (Result *result)
{
  g_clear_pointer (&result->out, g_free);
  g_clear_pointer (&result->err, g_free);
}

static Result
run (const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  Result result = { 0 };
  va_list args;

  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  /* Children see this test case's isolated data folder and keyring. */
  keyring_env ();
  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
                               G_SUBPROCESS_FLAGS_STDIN_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &result.out, &result.err, &error);
  g_assert_no_error (error);
  result.status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  g_test_message ("%s → %d\n%.2000s%.2000s", (char *) argv->pdata[1], result.status, result.out, result.err);
  return result;
}

static JsonObject *
parse_line (const char *line,
            const char *expected_event)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *object;

  json_parser_load_from_data (parser, line, -1, &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "event"), ==, expected_event);
  return json_object_ref (object);
}

static void
assert_no_secret (const char *haystack,
                  const char *payload_text,
                  const char *psk_b32)
{
  g_assert_null (strstr (haystack, payload_text));
  g_assert_null (strstr (haystack, psk_b32));
}

static void
test_pair_reconnect_unlink (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-pairing-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autoptr(JsonObject) qr = NULL;
  g_autoptr(JsonObject) desk_paired = NULL;
  g_autoptr(JsonObject) phone_paired = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(GPtrArray) symbols = NULL;
  g_autoptr(CompanionPairingPayload) payload = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *payload_text = NULL;
  g_autofree char *psk_b32 = NULL;
  const char *code;
  TestProcess *cli, *phone;
  GStatBuf st;

  keyring_env ();

  /* 1. Pair: the desktop shows a code, the phone scans the PNG. */
  cli = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                    "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "listening");
  qr = test_process_wait_event (cli, "qr");
  g_assert_cmpint (json_object_get_int_member (qr, "qr_version"), <=, 8);
  g_assert_cmpint (json_object_get_int_member (qr, "expires_in"), >, 50);
  g_assert_cmpint (g_stat (png, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (desk, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* What the test itself decodes is the secret no output may show. */
  symbols = companion_qr_scanner_scan_file (png, &error);
  g_assert_no_error (error);
  payload = companion_pairing_payload_parse_scanned (symbols, &error);
  g_assert_no_error (error);
  payload_text = companion_pairing_payload_to_string (payload);
  psk_b32 = companion_base32_encode (companion_pairing_payload_get_psk (payload), 32);

  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state,
                      "--name", "Test Phone", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "scanned");
  g_assert_cmpstr (json_object_get_string_member (event, "key_fingerprint"), ==,
                   json_object_get_string_member (qr, "key_fingerprint"));
  phone_paired = test_process_wait_event (phone, "paired");
  desk_paired = test_process_wait_event (cli, "paired");
  code = json_object_get_string_member (desk_paired, "safety_code");
  g_assert_cmpuint (strlen (code), ==, 6);
  g_assert_cmpstr (json_object_get_string_member (phone_paired, "safety_code"), ==, code);
  g_assert_cmpstr (json_object_get_string_member (desk_paired, "phone"), ==, "Test Phone");
  /* The used code's image is gone at once. */
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));

  /* Then the phone reconnects with KK at once. */
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "connected");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "connected");

  test_process_send (phone, "{\"type\": \"quit\"}");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "disconnected");
  assert_no_secret (test_process_get_output (phone), payload_text, psk_b32);
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  test_process_send (cli, "{\"type\": \"quit\"}");
  assert_no_secret (test_process_get_output (cli), payload_text, psk_b32);
  g_assert_cmpint (test_process_finish (cli), ==, 0);

  /* 2. Both restarted: they find each other again with KK, no QR. */
  cli = test_process_start (test_process_program ("COMPANION_CLI"), "run", "--json", "--state-dir", desk,
                    "--listen", "127.0.0.1:0", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "listening");
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "run", "--json", "--state-dir", phone_state, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "connected");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "connected");
  g_assert_cmpstr (json_object_get_string_member (event, "phone"), ==, "Test Phone");

  /* 3. Unlink on the desktop while connected: the phone is told. */
  test_process_send (cli, "{\"type\": \"unlink\"}");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "unlinked");
  g_assert_cmpstr (json_object_get_string_member (event, "by"), ==, "desktop");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "unlinked");
  g_assert_cmpstr (json_object_get_string_member (event, "by"), ==, "desktop");
  g_assert_cmpint (test_process_finish (cli), ==, 0);
  g_assert_cmpint (test_process_finish (phone), ==, 0);

  {
    Result result = run (test_process_program ("COMPANION_PHONE"), "run", "--state-dir", phone_state, NULL);
    g_assert_cmpint (result.status, ==, 1);
    g_assert_nonnull (strstr (result.err, "not paired"));
    result_clear (&result);
  }
}

/* The desktop unlinks while the phone is away: its next reconnect is
 * refused with a clear error, and the desktop goes on serving. */
static void
test_reconnect_refused_after_unlink (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-refused-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autoptr(JsonObject) event = NULL;
  TestProcess *cli, *phone;
  Result result;

  keyring_env ();

  cli = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                    "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  event = test_process_wait_event (cli, "qr");
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "connected");
  test_process_send (phone, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  test_process_send (cli, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (cli), ==, 0);

  keyring_env ();
  result = run (test_process_program ("COMPANION_CLI"), "unlink", "--state-dir", desk, NULL);
  g_assert_cmpint (result.status, ==, 0);
  g_assert_nonnull (strstr (result.out, "Unlinked"));
  result_clear (&result);
  result = run (test_process_program ("COMPANION_CLI"), "status", "--state-dir", desk, NULL);
  g_assert_nonnull (strstr (result.out, "Not paired"));
  result_clear (&result);

  /* Listening again (unpaired, so showing a new code). */
  cli = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                    "--listen", "127.0.0.1:0", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "qr");
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "run", "--json", "--state-dir", phone_state, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "disconnected");
  if (strstr (json_object_get_string_member (event, "reason"), "pair again") == NULL)
    g_error ("The phone was refused for another reason: %s\n%s", json_object_get_string_member (event, "reason"),
             test_process_get_output (phone));
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "refused");
  test_process_send (phone, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  test_process_send (cli, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (cli), ==, 0);
}

/* First sync with real processes: generated phone data reaches the
 * desktop, and the two exports are the same bytes. */
static void
test_first_sync (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-sync-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) synced = NULL;
  TestProcess *cli, *phone;
  Result desk_export, phone_export;
  gint64 messages;

  keyring_env ();
  cli = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                            "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  event = test_process_wait_event (cli, "qr");
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state,
                              "--generate", test_process_sanitized ()
                                ? "chats=50,messages=2000,media=40,calls=300,seed=7"
                                : "chats=50,messages=20000,media=40,calls=300,seed=7", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "generated");
  messages = json_object_get_int_member (event, "messages");
  g_assert_cmpint (messages, ==, test_process_sanitized () ? 2000 : 20000);

  /* The chat list comes before any history. */
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "sync-progress");
  g_assert_cmpstr (json_object_get_string_member (event, "entity"), ==, "contact");
  synced = test_process_wait_event (cli, "synced");
  g_assert_cmpint (json_object_get_int_member (synced, "messages"), ==, messages);
  g_assert_cmpint (json_object_get_int_member (synced, "chats"), ==, 50);
  g_assert_cmpint (json_object_get_int_member (synced, "media"), ==, 40);
  g_assert_cmpint (json_object_get_int_member (synced, "calls"), ==, 300);
  g_assert_cmpint (json_object_get_int_member (synced, "cursor"), >, messages);
  {
    const char *seen = test_process_get_output (cli);
    const char *chats = strstr (seen, "\"entity\":\"chat\"");
    const char *calls = strstr (seen, "\"entity\":\"call\"");
    g_assert_nonnull (chats);
    g_assert_nonnull (calls);
    g_assert_true (chats < calls);
  }

  test_process_send (phone, "{\"type\": \"quit\"}");
  test_process_send (cli, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  g_assert_cmpint (test_process_finish (cli), ==, 0);

  desk_export = run (test_process_program ("COMPANION_CLI"), "export", "--state-dir", desk, NULL);
  phone_export = run (test_process_program ("COMPANION_PHONE"), "export", "--state-dir", phone_state, NULL);
  g_assert_cmpint (desk_export.status, ==, 0);
  g_assert_cmpint (phone_export.status, ==, 0);
  g_assert_cmpuint (strlen (desk_export.out), >, (gsize) messages * 50);
  g_assert_true (g_str_has_suffix (desk_export.out, "}\n"));
  g_assert_true (g_str_equal (desk_export.out, phone_export.out));
  /* Images bring their thumbnails inline: a PNG ("\x89PNG\r\n\x1a\n") in base64. */
  g_assert_nonnull (strstr (desk_export.out, "\"thumbnail\":\"iVBORw0KGgo"));
  result_clear (&desk_export);
  result_clear (&phone_export);
}

/* A file sent from the desktop over stdin reaches the phone, comes back as
 * ordinary changes, and both exports are the same bytes. */
static void
test_send_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-send-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autofree char *source = g_build_filename (dir, "Quarterly report.pdf", NULL);
  g_autofree char *command = NULL;
  g_autofree char *missing = NULL;
  g_autofree guint8 *bytes = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  const gsize size = 3 * 1024 * 1024 + 17;
  TestProcess *cli, *phone;
  Result desk_export, phone_export;
  gint64 media;
  const char *client_id;

  keyring_env ();
  bytes = g_malloc (size);
  memcpy (bytes, "%PDF-1.4\n", 9);
  for (gsize i = 9; i < size; i++)
    bytes[i] = (guint8) g_rand_int (rand);
  g_assert_true (g_file_set_contents (source, (const char *) bytes, (gssize) size, NULL));

  cli = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                            "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  event = test_process_wait_event (cli, "qr");
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state,
                              "--generate", "chats=5,messages=200,media=4,calls=10,seed=3", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "synced");
  media = json_object_get_int_member (event, "media");

  /* A bad command is answered and changes nothing. */
  missing = g_strdup_printf ("{\"type\":\"send-file\",\"chat\":\"ch-2\",\"path\":\"%s/none.pdf\"}", dir);
  test_process_send (cli, missing);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "command-failed");
  g_assert_nonnull (strstr (json_object_get_string_member (event, "reason"), "none.pdf"));

  command = g_strdup_printf ("{\"type\":\"send-file\",\"chat\":\"ch-2\",\"path\":\"%s\",\"caption\":\"Q3 🧾\"}",
                             source);
  test_process_send (cli, command);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (cli, "command-queued");
  client_id = json_object_get_string_member (event, "client_id");
  g_assert_nonnull (client_id);
  {
    g_autoptr(JsonObject) progress = test_process_wait_event (cli, "upload-progress");
    g_autoptr(JsonObject) done = test_process_wait_event (cli, "command-done");

    g_assert_cmpstr (json_object_get_string_member (progress, "client_id"), ==, client_id);
    g_assert_cmpint (json_object_get_int_member (progress, "size"), ==, (gint64) size);
    g_assert_cmpstr (json_object_get_string_member (done, "client_id"), ==, client_id);
  }
  /* Its changes come back: one more media, and the desktop is up to date. */
  do
    {
      g_clear_pointer (&event, json_object_unref);
      event = test_process_wait_event (cli, "synced");
    }
  while (json_object_get_int_member (event, "media") < media + 1);
  g_assert_cmpint (json_object_get_int_member (event, "media"), ==, media + 1);

  test_process_send (phone, "{\"type\": \"quit\"}");
  test_process_send (cli, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  test_process_drain (cli);
  /* The desktop had the file already: it was not downloaded back. */
  {
    g_auto(GStrv) lines = g_strsplit (test_process_get_output (cli), "\n", -1);
    g_autofree char *sized = g_strdup_printf ("\"size\":%" G_GSIZE_FORMAT, size);

    for (guint i = 0; lines[i] != NULL; i++)
      if (strstr (lines[i], "\"event\":\"media-progress\"") != NULL)
        g_assert_null (strstr (lines[i], sized));
  }
  g_assert_cmpint (test_process_finish (cli), ==, 0);

  desk_export = run (test_process_program ("COMPANION_CLI"), "export", "--state-dir", desk, NULL);
  phone_export = run (test_process_program ("COMPANION_PHONE"), "export", "--state-dir", phone_state, NULL);
  g_assert_cmpint (desk_export.status, ==, 0);
  g_assert_cmpint (phone_export.status, ==, 0);
  g_assert_nonnull (strstr (phone_export.out, "\"mime\":\"application/pdf\",\"name\":\"Quarterly report.pdf\""));
  g_assert_nonnull (strstr (phone_export.out, "\"text\":\"Q3 🧾\""));
  g_assert_true (g_str_equal (desk_export.out, phone_export.out));
  result_clear (&desk_export);
  result_clear (&phone_export);
}

static guint
count_events (const char *output,
              const char *event)
{
  g_autofree char *needle = g_strdup_printf ("\"event\":\"%s\"", event);
  guint n = 0;

  for (const char *p = strstr (output, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* Media download follows the "auto-download-limit" setting: 0 fetches
 * nothing, the default (16 MiB) fetches the fixture's three small files. */
static void
test_auto_download_limit (void)
{
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "fixture-small", "fixture.json", NULL);
  g_autofree char *config = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", NULL);
  g_autofree char *keyfile = g_build_filename (config, "keyfile", NULL);

  keyring_env ();
  g_mkdir_with_parents (config, 0700);
  g_assert_true (g_file_set_contents (keyfile, "[io/github/companiondesk/Companion]\nauto-download-limit=0\n",
                                      -1, NULL));

  for (int limit_zero = 1; limit_zero >= 0; limit_zero--)
    {
      g_autofree char *dir = g_dir_make_tmp ("companion-media-XXXXXX", NULL);
      g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
      g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
      g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
      g_autoptr(JsonObject) event = NULL;
      TestProcess *cli, *phone;

      if (limit_zero)
        {
          g_setenv ("GSETTINGS_BACKEND", "keyfile", TRUE);
          g_setenv ("XDG_CONFIG_HOME", g_get_user_config_dir (), TRUE);
        }
      cli = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                                "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
      g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
      event = test_process_wait_event (cli, "qr");
      phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state,
                                  "--fixture", fixture, NULL);
      g_clear_pointer (&event, json_object_unref);
      event = test_process_wait_event (cli, "synced");

      if (limit_zero)
        {
          /* Give it time to (not) fetch anything. */
          g_usleep (700 * 1000);
          test_process_send (cli, "{\"type\": \"quit\"}");
        }
      else
        {
          for (guint n = 0; n < 3; n++)
            {
              g_clear_pointer (&event, json_object_unref);
              event = test_process_wait_event (cli, "media-complete");
            }
          test_process_send (cli, "{\"type\": \"quit\"}");
        }
      /* Everything it printed, up to its end. */
      test_process_drain (cli);
      g_clear_pointer (&event, json_object_unref);
      test_process_send (phone, "{\"type\": \"quit\"}");
      g_assert_cmpint (test_process_finish (phone), ==, 0);
      g_assert_cmpuint (count_events (test_process_get_output (cli), "media-complete"), ==, limit_zero ? 0 : 3);
      g_assert_cmpint (test_process_finish (cli), ==, 0);
    }
}

static void
write_code (const char *path,
            const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionQrCode) code = companion_qr_code_new (text, &error);

  g_assert_no_error (error);
  g_assert_true (companion_qr_code_write_png (code, path, 4, &error));
  g_assert_no_error (error);
}

static void
assert_phone_scan_fails (const char *image,
                         const char *message_part)
{
  g_autofree char *dir = g_path_get_dirname (image);
  g_autofree char *state = g_build_filename (dir, "phone", NULL);
  Result result = run (test_process_program ("COMPANION_PHONE"), "scan", image, "--state-dir", state, NULL);

  g_assert_cmpint (result.status, ==, 1);
  g_assert_cmpstr (result.out, ==, "");
  g_assert_true (g_str_has_prefix (result.err, "companion-phone: "));
  g_assert_nonnull (strstr (result.err, message_part));
  /* One line, as the contract says. */
  g_assert_cmpuint (strlen (result.err), ==, (gsize) (strchr (result.err, '\n') - result.err) + 1);
  result_clear (&result);
}

static void
test_scan_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-scan-XXXXXX", NULL);
  g_autofree char *foreign = g_build_filename (dir, "foreign.png", NULL);
  g_autofree char *future = g_build_filename (dir, "future.png", NULL);
  g_autofree char *blank = g_build_filename (dir, "blank.png", NULL);
  g_autofree char *text = g_build_filename (dir, "text.png", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.png", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.png", NULL);
  guint8 white[64 * 64];
  png_image image = { 0 };

  write_code (foreign, "https://example.org/menu");
  write_code (future, "CPN2/AAAAAAAAAAAAAAAA");
  memset (white, 0xff, sizeof white);
  image.version = PNG_IMAGE_VERSION;
  image.width = image.height = 64;
  image.format = PNG_FORMAT_GRAY;
  g_assert_true (png_image_write_to_file (&image, blank, 0, white, 64, NULL));
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_true (g_file_set_contents (text, "not an image at all", -1, NULL));

  assert_phone_scan_fails (foreign, "not a Companion pairing code");
  assert_phone_scan_fails (future, "version 2");
  assert_phone_scan_fails (blank, "No QR code was found in “");
  assert_phone_scan_fails (empty, "is not a PNG image (the file is empty)");
  assert_phone_scan_fails (text, "is not a PNG image");
  assert_phone_scan_fails (missing, "No such file");

  g_unlink (foreign);
  g_unlink (future);
  g_unlink (blank);
  g_unlink (empty);
  g_unlink (text);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_rmdir (phone_state);
  g_rmdir (dir);
}

static void
test_usage_errors (void)
{
  struct { const char *var; const char *args[4]; int status; const char *err; } cases[] = {
    { "COMPANION_CLI", { NULL }, 2, "Usage: companion-cli" },
    { "COMPANION_CLI", { "frobnicate", NULL }, 2, "unknown command “frobnicate”" },
    { "COMPANION_CLI", { "pair", "--listen", "nonsense", NULL }, 1, "“nonsense” is not ADDR:PORT" },
    { "COMPANION_CLI", { "pair", "--listen", "1.2.3.4:70000", NULL }, 1, "not a port number" },
    { "COMPANION_CLI", { "pair", "--bogus", NULL }, 2, "Unknown option --bogus" },
    { "COMPANION_CLI", { "status", "--qr-png", "x.png", NULL }, 2, "Unknown option --qr-png" },
    { "COMPANION_CLI", { "pair", "extra", NULL }, 2, "unexpected argument “extra”" },
    { "COMPANION_CLI", { "run", NULL }, 1, "not paired" },
    { "COMPANION_PHONE", { NULL }, 2, "Usage: companion-phone" },
    { "COMPANION_PHONE", { "scan", NULL }, 2, "give exactly one IMAGE" },
    { "COMPANION_PHONE", { "scan", "a.png", "b.png", NULL }, 2, "give exactly one IMAGE" },
    { "COMPANION_PHONE", { "dance", NULL }, 2, "unknown command “dance”" },
    { "COMPANION_PHONE", { "run", NULL }, 1, "not paired" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *p = test_process_program (cases[i].var);
      Result result = run (p, cases[i].args[0], cases[i].args[0] ? cases[i].args[1] : NULL,
                           cases[i].args[0] && cases[i].args[1] ? cases[i].args[2] : NULL, NULL);

      g_assert_cmpint (result.status, ==, cases[i].status);
      g_assert_nonnull (strstr (result.err, cases[i].err));
      result_clear (&result);
    }
}

static void
test_status_and_version (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-status-XXXXXX", NULL);
  Result result = run (test_process_program ("COMPANION_CLI"), "status", "--state-dir", dir, NULL);
  g_autoptr(JsonObject) status = NULL;

  g_assert_cmpint (result.status, ==, 0);
  g_assert_nonnull (strstr (result.out, "Not paired"));
  result_clear (&result);

  result = run (test_process_program ("COMPANION_CLI"), "status", "--json", "--state-dir", dir, NULL);
  g_assert_cmpint (result.status, ==, 0);
  status = parse_line (result.out, "status");
  g_assert_false (json_object_get_boolean_member (status, "paired"));
  result_clear (&result);

  result = run (test_process_program ("COMPANION_CLI"), "--version", NULL);
  g_assert_cmpint (result.status, ==, 0);
  g_assert_true (g_str_has_prefix (result.out, "companion-cli "));
  result_clear (&result);
  result = run (test_process_program ("COMPANION_PHONE"), "--version", NULL);
  g_assert_cmpint (result.status, ==, 0);
  g_assert_true (g_str_has_prefix (result.out, "companion-phone "));
  result_clear (&result);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  system_data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") != NULL ? g_getenv ("XDG_DATA_DIRS")
                                                                   : "/usr/local/share:/usr/share");
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_true (companion_core_init (NULL));

  g_test_add_func ("/programs/pair-reconnect-unlink", test_pair_reconnect_unlink);
  g_test_add_func ("/programs/reconnect-refused-after-unlink", test_reconnect_refused_after_unlink);
  g_test_add_func ("/programs/first-sync", test_first_sync);
  g_test_add_func ("/programs/send-file", test_send_file);
  g_test_add_func ("/programs/auto-download-limit", test_auto_download_limit);
  g_test_add_func ("/programs/scan-errors", test_scan_errors);
  g_test_add_func ("/programs/usage-errors", test_usage_errors);
  g_test_add_func ("/programs/status-and-version", test_status_and_version);

  return g_test_run ();
}
