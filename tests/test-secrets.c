/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Secrets stay secret, with the real programs: a desktop and a phone pair,
 * sync, reconnect and unlink with every line they print kept (stdout, and
 * stderr with debug messages on), and none of it, nor any file they leave
 * in their state folders, holds the pairing payload, its one-time secret,
 * or a private key (the phone's from its identity.key, the desktop's from
 * the key store it uses, before and after unlinking replaces them), in raw
 * bytes, hex, base64 or base32. State folders are 0700 and their files
 * 0600 throughout, and the used code is refused afterwards.
 *
 * Session keys live only in the programs' memory and are not observable
 * here; what they could leak into is the output, which is searched.
 */
#include "config.h"

#define _GNU_SOURCE /* memmem */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "companion-base32.h"
#include "companion-core.h"
#include "companion-identity.h"
#include "companion-key-store.h"
#include "companion-pairing-payload.h"
#include "companion-qr-scanner.h"
#include "companion-secret-key-store.h"

#include "test-process.h"
#include "test-util.h"

static char *system_data_dirs;

typedef struct
{
  char       *name;
  GByteArray *bytes;
} Secret;

static void
secret_free (Secret *secret)
{
  sodium_memzero (secret->bytes->data, secret->bytes->len);
  g_byte_array_unref (secret->bytes);
  g_free (secret->name);
  g_free (secret);
}

static void
add_secret (GPtrArray    *secrets,
            const char   *name,
            const guint8 *data,
            gsize         len)
{
  Secret *secret = g_new0 (Secret, 1);

  secret->name = g_strdup (name);
  secret->bytes = g_byte_array_new ();
  g_byte_array_append (secret->bytes, data, (guint) len);
  g_ptr_array_add (secrets, secret);
}

static void
add_identity_file (GPtrArray  *secrets,
                   const char *name,
                   const char *state_dir)
{
  g_autofree char *path = g_build_filename (state_dir, "identity.key", NULL);
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpuint (len, ==, 32);
  add_secret (secrets, name, (const guint8 *) contents, len);
  sodium_memzero (contents, len);
}

/* The desktop's private key, from the store it uses (libsecret's file
 * backend here, or the 0600 file when there is no Secret Service). */
static void
add_desktop_identity (GPtrArray  *secrets,
                      const char *name,
                      const char *desk)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionKeyStore) store = companion_key_store_open_desktop (desk, NULL, &error);
  g_autoptr(CompanionIdentity) identity = NULL;

  g_assert_no_error (error);
  identity = companion_key_store_load_identity (store, &error);
  g_assert_no_error (error);
  g_assert_nonnull (identity);
  add_secret (secrets, name, companion_identity_get_secret_key (identity), 32);
}

/* The spellings a secret could leak in; a prefix of each is enough to
 * count (a line cut short still leaks). */
static GPtrArray *
spellings (const Secret *secret)
{
  GPtrArray *all = g_ptr_array_new_with_free_func (g_free);
  const guint8 *data = secret->bytes->data;
  gsize len = secret->bytes->len;
  char *hex = g_malloc (len * 2 + 1);
  g_autofree char *b64 = g_base64_encode (data, len);
  g_autofree char *b32 = companion_base32_encode (data, len);

  sodium_bin2hex (hex, len * 2 + 1, data, len);
  g_ptr_array_add (all, g_strndup (hex, 24));
  g_ptr_array_add (all, g_ascii_strup (hex, 24));
  g_ptr_array_add (all, g_strndup (b64, 16));
  g_ptr_array_add (all, g_strndup (b32, 16));
  for (char *c = b64; *c != '\0'; c++)
    *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
  g_ptr_array_add (all, g_strndup (b64, 16));
  sodium_memzero (hex, len * 2);
  g_free (hex);
  return all;
}

/* WHERE (TEXT, LEN bytes) holds none of SECRETS. */
static void
assert_no_secret_in (const char *where,
                     const char *text,
                     gsize       len,
                     GPtrArray  *secrets)
{
  for (guint i = 0; i < secrets->len; i++)
    {
      Secret *secret = g_ptr_array_index (secrets, i);
      g_autoptr(GPtrArray) forms = spellings (secret);

      if (memmem (text, len, secret->bytes->data, MIN (secret->bytes->len, 12)) != NULL)
        g_error ("%s holds %s in raw bytes", where, secret->name);
      for (guint k = 0; k < forms->len; k++)
        if (memmem (text, len, forms->pdata[k], strlen (forms->pdata[k])) != NULL)
          g_error ("%s holds %s, spelled %s…", where, secret->name, (char *) forms->pdata[k]);
    }
}

/* Every file under DIR but the key files themselves holds none of SECRETS;
 * folders are 0700, files 0600. Returns how many files were read. */
static guint
check_tree (const char *dir,
            GPtrArray  *secrets)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;
  GStatBuf st;

  g_assert_cmpint (g_lstat (dir, &st), ==, 0);
  if ((st.st_mode & 0777) != 0700)
    g_error ("The folder %s is %o, not 0700", dir, st.st_mode & 0777);
  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize len = 0;

      g_assert_cmpint (g_lstat (path, &st), ==, 0);
      if (S_ISDIR (st.st_mode))
        {
          n += check_tree (path, secrets);
          continue;
        }
      g_assert_true (S_ISREG (st.st_mode));
      if ((st.st_mode & 0777) != 0600)
        g_error ("The file %s is %o, not 0600", path, st.st_mode & 0777);
      if (g_str_equal (name, "identity.key"))
        continue;
      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      assert_no_secret_in (path, contents, len, secrets);
      n++;
    }
  return n;
}

/* Keeps everything PROCESS printed on stdout, then ends it. */
static int
finish (TestProcess *process,
        GString     *outputs)
{
  test_process_drain (process);
  g_string_append (outputs, test_process_get_output (process));
  return test_process_finish (process);
}

static int
quit (TestProcess *process,
      GString     *outputs)
{
  test_process_send (process, "{\"type\": \"quit\"}");
  return finish (process, outputs);
}

/* Everything the programs wrote to stderr. */
static void
append_stderr (const char *logs,
               GString    *outputs)
{
  g_autoptr(GDir) listing = g_dir_open (logs, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (logs, name, NULL);
      g_autofree char *contents = NULL;

      g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      g_string_append (outputs, contents);
    }
}

static void
test_no_secret_leaks (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-secrets-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autofree char *used_png = g_build_filename (dir, "used-qr.png", NULL);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autofree char *second_phone = g_build_filename (dir, "second-phone", NULL);
  g_autofree char *logs = g_build_filename (dir, "logs", NULL);
  g_autoptr(GPtrArray) secrets = g_ptr_array_new_with_free_func ((GDestroyNotify) secret_free);
  g_autoptr(GString) outputs = g_string_new (NULL);
  g_autoptr(GPtrArray) symbols = NULL;
  g_autoptr(CompanionPairingPayload) payload = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *payload_text = NULL;
  g_autofree char *png_bytes = NULL;
  gsize png_len = 0;
  guint files = 0;
  TestProcess *desktop, *phone;

  g_assert_cmpint (g_mkdir (logs, 0700), ==, 0);
  test_process_isolated_env (g_get_user_data_dir (), system_data_dirs);
  /* Debug messages too: a secret must not hide in them either. */
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  test_process_set_stderr_dir (logs);

  /* 1. Pair and sync, with media, so every kind of file is written. */
  desktop = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                                "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  event = test_process_wait_event (desktop, "qr");
  symbols = companion_qr_scanner_scan_file (png, &error);
  g_assert_no_error (error);
  payload = companion_pairing_payload_parse_scanned (symbols, &error);
  g_assert_no_error (error);
  payload_text = companion_pairing_payload_to_string (payload);
  add_secret (secrets, "the pairing payload", (const guint8 *) payload_text, strlen (payload_text));
  add_secret (secrets, "the pairing secret", companion_pairing_payload_get_psk (payload), 32);
  /* Kept to try it again once used (this copy is the test's own). */
  g_assert_true (g_file_get_contents (png, &png_bytes, &png_len, NULL));
  g_assert_true (g_file_set_contents_full (used_png, png_bytes, (gssize) png_len, G_FILE_SET_CONTENTS_NONE,
                                           0600, NULL));

  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json",
                              "--state-dir", phone_state,
                              "--generate", "chats=6,messages=200,media=3,calls=10,seed=9", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (desktop, "paired");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (desktop, "media-complete");
  add_identity_file (secrets, "the phone's private key", phone_state);
  add_desktop_identity (secrets, "the desktop's private key", desk);
  files += check_tree (desk, secrets) + check_tree (phone_state, secrets);

  /* 2. Reconnect: both programs start again and find each other. */
  g_assert_cmpint (quit (phone, outputs), ==, 0);
  g_assert_cmpint (quit (desktop, outputs), ==, 0);
  desktop = test_process_start (test_process_program ("COMPANION_CLI"), "run", "--json", "--state-dir", desk,
                                "--listen", "127.0.0.1:0", NULL);
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "run", "--json",
                              "--state-dir", phone_state, "--events", "20", "--seed", "2", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (desktop, "connected");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_up_to_date (desktop);
  files += check_tree (desk, secrets) + check_tree (phone_state, secrets);

  /* 3. Unlink: both replace their identities; the new ones stay secret too. */
  test_process_send (desktop, "{\"type\": \"unlink\"}");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "unlinked");
  g_assert_cmpint (finish (desktop, outputs), ==, 0);
  g_assert_cmpint (finish (phone, outputs), ==, 0);
  add_identity_file (secrets, "the phone's new private key", phone_state);
  add_desktop_identity (secrets, "the desktop's new private key", desk);

  /* 4. The used code is refused, by a desktop showing a fresh one. */
  desktop = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                                "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (desktop, "qr");
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", used_png, "--json",
                              "--state-dir", second_phone, NULL);
  test_process_drain (phone);
  g_test_message ("a used code: %s", test_process_get_output (phone));
  g_assert_nonnull (strstr (test_process_get_output (phone), "pairing code"));
  g_assert_cmpint (finish (phone, outputs), !=, 0);
  g_assert_null (strstr (test_process_get_output (desktop), "\"paired\""));
  g_assert_cmpint (quit (desktop, outputs), ==, 0);
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));

  /* Nothing printed, logged or stored holds a secret. */
  test_process_set_stderr_dir (NULL);
  g_unsetenv ("G_MESSAGES_DEBUG");
  append_stderr (logs, outputs);
  g_test_message ("%zu bytes of output and logs, %u stored files searched for %u secrets",
                  outputs->len, files + check_tree (desk, secrets) + check_tree (phone_state, secrets),
                  secrets->len);
  g_assert_cmpuint (outputs->len, >, 1000);
  g_assert_nonnull (strstr (outputs->str, "DEBUG"));
  assert_no_secret_in ("The programs' output", outputs->str, outputs->len, secrets);

  sodium_memzero (png_bytes, png_len);
  test_util_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  system_data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") != NULL ? g_getenv ("XDG_DATA_DIRS")
                                                                   : "/usr/local/share:/usr/share");
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);
  /* The debug messages turned on for the programs reach this process too:
   * they must not mix with its TAP output. */
  g_log_writer_default_set_use_stderr (TRUE);

  g_test_add_func ("/secrets/no-leaks", test_no_secret_leaks);

  return g_test_run ();
}
