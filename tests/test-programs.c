/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <png.h>
#include <signal.h>
#include <string.h>

#include "companion-base32.h"
#include "companion-core.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-qr-scanner.h"

/* Real processes: companion-cli and companion-phone from this build. */

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

static const char *
program (const char *variable)
{
  const char *path = g_getenv (variable);

  g_assert_nonnull (path);
  return path;
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

  /* Children see this test case's isolated data folder. */
  g_setenv ("XDG_DATA_HOME", g_get_user_data_dir (), TRUE);
  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
                               G_SUBPROCESS_FLAGS_STDIN_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &result.out, &result.err, &error);
  g_assert_no_error (error);
  result.status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  g_test_message ("%s → %d\n%s%s", (char *) argv->pdata[1], result.status, result.out, result.err);
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

static char *
read_line_with_deadline (GDataInputStream *stream)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (stream, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (line);
  return line;
}

static void
assert_no_secret (const char *haystack,
                  const char *payload_text,
                  const char *psk_b32)
{
  g_assert_null (strstr (haystack, payload_text));
  g_assert_null (strstr (haystack, psk_b32));
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("Timed out waiting for companion-cli");
  return G_SOURCE_REMOVE;
}

static void
test_pair_and_scan (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-programs-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autofree char *state = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autoptr(GSubprocess) cli = NULL;
  g_autoptr(GDataInputStream) cli_out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) qr = NULL;
  g_autoptr(JsonObject) scanned = NULL;
  g_autoptr(GPtrArray) symbols = NULL;
  g_autoptr(CompanionPairingPayload) payload = NULL;
  g_autofree char *line = NULL;
  g_autofree char *payload_text = NULL;
  g_autofree char *psk_b32 = NULL;
  g_autofree char *rest = NULL;
  g_autofree char *cli_err = NULL;
  JsonArray *addresses;
  Result phone;
  GStatBuf st;
  guint timeout_id;

  cli = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                          program ("COMPANION_CLI"), "pair", "--json", "--state-dir", state,
                          "--listen", "127.0.0.1:47399", "--qr-png", png, NULL);
  g_assert_no_error (error);
  cli_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (cli));

  timeout_id = g_timeout_add_seconds (30, on_timeout, NULL);
  line = read_line_with_deadline (cli_out);
  qr = parse_line (line, "qr");
  g_assert_cmpstr (json_object_get_string_member (qr, "png"), ==, png);
  g_assert_cmpint (json_object_get_int_member (qr, "version"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (qr, "qr_version"), <=, 8);

  /* The image is private to its owner and the state folder too. */
  g_assert_cmpint (g_stat (png, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (state, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* What the test itself decodes is the secret no output may show. */
  symbols = companion_qr_scanner_scan_file (png, &error);
  g_assert_no_error (error);
  payload = companion_pairing_payload_parse_scanned (symbols, &error);
  g_assert_no_error (error);
  payload_text = companion_pairing_payload_to_string (payload);
  psk_b32 = companion_base32_encode (companion_pairing_payload_get_psk (payload), 32);

  phone = run (program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state, NULL);
  g_assert_cmpint (phone.status, ==, 0);
  scanned = parse_line (phone.out, "scanned");
  g_assert_cmpstr (json_object_get_string_member (scanned, "key_fingerprint"), ==,
                   json_object_get_string_member (qr, "key_fingerprint"));
  addresses = json_object_get_array_member (scanned, "addresses");
  g_assert_cmpuint (json_array_get_length (addresses), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (addresses, 0), ==, "127.0.0.1:47399");
  assert_no_secret (phone.out, payload_text, psk_b32);
  assert_no_secret (phone.err, payload_text, psk_b32);
  result_clear (&phone);

  /* The human-readable form too. */
  phone = run (program ("COMPANION_PHONE"), "scan", png, "--state-dir", phone_state, NULL);
  g_assert_cmpint (phone.status, ==, 0);
  g_assert_nonnull (strstr (phone.out, "[redacted]"));
  g_assert_nonnull (strstr (phone.out, "127.0.0.1:47399"));
  assert_no_secret (phone.out, payload_text, psk_b32);
  result_clear (&phone);

  /* SIGTERM ends it cleanly and takes the image with it. */
  g_subprocess_send_signal (cli, SIGTERM);
  g_subprocess_communicate_utf8 (cli, NULL, NULL, &rest, &cli_err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (cli));
  g_assert_cmpint (g_subprocess_get_exit_status (cli), ==, 0);
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));
  assert_no_secret (line, payload_text, psk_b32);
  assert_no_secret (rest, payload_text, psk_b32);
  assert_no_secret (cli_err, payload_text, psk_b32);
  g_source_remove (timeout_id);

  g_rmdir (state);
  g_rmdir (phone_state);
  g_rmdir (dir);
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
  Result result = run (program ("COMPANION_PHONE"), "scan", image, "--state-dir", state, NULL);

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
      const char *p = program (cases[i].var);
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
  Result result = run (program ("COMPANION_CLI"), "status", "--state-dir", dir, NULL);
  g_autoptr(JsonObject) status = NULL;

  g_assert_cmpint (result.status, ==, 0);
  g_assert_nonnull (strstr (result.out, "Not paired"));
  result_clear (&result);

  result = run (program ("COMPANION_CLI"), "status", "--json", "--state-dir", dir, NULL);
  g_assert_cmpint (result.status, ==, 0);
  status = parse_line (result.out, "status");
  g_assert_false (json_object_get_boolean_member (status, "paired"));
  result_clear (&result);

  result = run (program ("COMPANION_CLI"), "--version", NULL);
  g_assert_cmpint (result.status, ==, 0);
  g_assert_true (g_str_has_prefix (result.out, "companion-cli "));
  result_clear (&result);
  result = run (program ("COMPANION_PHONE"), "--version", NULL);
  g_assert_cmpint (result.status, ==, 0);
  g_assert_true (g_str_has_prefix (result.out, "companion-phone "));
  result_clear (&result);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_true (companion_core_init (NULL));

  g_test_add_func ("/programs/pair-and-scan", test_pair_and_scan);
  g_test_add_func ("/programs/scan-errors", test_scan_errors);
  g_test_add_func ("/programs/usage-errors", test_usage_errors);
  g_test_add_func ("/programs/status-and-version", test_status_and_version);

  return g_test_run ();
}
