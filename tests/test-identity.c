/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-core.h"
#include "companion-file-key-store.h"
#include "companion-identity.h"
#include "companion-pairing-record.h"
#include "companion-secret-key-store.h"
#include "test-util.h"

/* Every test works under this folder, removed at exit. */
static char *base_dir;
static char *keyring_path;

static char *
make_state_dir (void)
{
  static guint counter;
  char *dir = g_strdup_printf ("%s/state-%u", base_dir, ++counter);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  return dir;
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
write_file (const char   *path,
            const void   *data,
            gsize         len,
            int           mode)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, mode,
                            &error);
  g_assert_no_error (error);
  /* The umask may have taken bits away. */
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

static gboolean
contains_bytes (const guint8 *haystack,
                gsize         haystack_len,
                const guint8 *needle,
                gsize         needle_len)
{
  for (gsize i = 0; i + needle_len <= haystack_len; i++)
    if (memcmp (haystack + i, needle, needle_len) == 0)
      return TRUE;
  return FALSE;
}

/* An error message may name files but must never hold key material. */
static void
assert_no_key_in (const char        *message,
                  CompanionIdentity *identity)
{
  char hex[COMPANION_IDENTITY_KEY_SIZE * 2 + 1];

  sodium_bin2hex (hex, sizeof hex, companion_identity_get_secret_key (identity),
                  COMPANION_IDENTITY_KEY_SIZE);
  g_assert_null (strstr (message, hex));
  g_assert_false (contains_bytes ((const guint8 *) message, strlen (message),
                                  companion_identity_get_secret_key (identity), 8));
}

static void
assert_fingerprint_format (const char *fingerprint)
{
  g_assert_true (g_regex_match_simple ("^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$",
                                       fingerprint, 0, 0));
}

/* Identity */

static void
test_identity_generate (void)
{
  g_autoptr(CompanionIdentity) a = companion_identity_generate ();
  g_autoptr(CompanionIdentity) b = companion_identity_generate ();
  g_autofree char *fp_a = companion_identity_dup_fingerprint (a);
  g_autofree char *fp_b = companion_identity_dup_fingerprint (b);
  guint8 expected[COMPANION_IDENTITY_KEY_SIZE];

  g_assert_false (sodium_is_zero (companion_identity_get_secret_key (a),
                                  COMPANION_IDENTITY_KEY_SIZE));
  g_assert_cmpint (crypto_scalarmult_base (expected, companion_identity_get_secret_key (a)), ==, 0);
  g_assert_cmpmem (companion_identity_get_public_key (a), COMPANION_IDENTITY_KEY_SIZE,
                   expected, sizeof expected);

  g_assert_false (companion_identity_equal (a, b));
  g_assert_true (companion_identity_equal (a, a));
  g_assert_cmpstr (fp_a, !=, fp_b);
  assert_fingerprint_format (fp_a);
  assert_fingerprint_format (fp_b);

  g_assert_finalize_object (g_steal_pointer (&a));
  g_assert_finalize_object (g_steal_pointer (&b));
}

static void
test_identity_round_trip (void)
{
  g_autoptr(CompanionIdentity) a = companion_identity_generate ();
  g_autoptr(CompanionIdentity) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *fp_a = NULL;
  g_autofree char *fp_b = NULL;

  b = companion_identity_new_from_secret (companion_identity_get_secret_key (a), &error);
  g_assert_no_error (error);
  g_assert_nonnull (b);
  g_assert_true (companion_identity_equal (a, b));
  g_assert_cmpmem (companion_identity_get_secret_key (a), COMPANION_IDENTITY_KEY_SIZE,
                   companion_identity_get_secret_key (b), COMPANION_IDENTITY_KEY_SIZE);
  fp_a = companion_identity_dup_fingerprint (a);
  fp_b = companion_identity_dup_fingerprint (b);
  g_assert_cmpstr (fp_a, ==, fp_b);
}

/* RFC 7748 section 6.1 (Alice); the fingerprint was computed independently:
 * BLAKE2b-48 with personal "cpn-id-fp-v1" (Python hashlib). */
static void
test_identity_fingerprint_stable (void)
{
  static const char *secret_hex =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
  static const char *public_hex =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
  guint8 secret[32], public_key[32];
  g_autoptr(CompanionIdentity) identity = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *from_key = NULL;

  g_assert_cmpint (sodium_hex2bin (secret, 32, secret_hex, 64, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (sodium_hex2bin (public_key, 32, public_hex, 64, NULL, NULL, NULL), ==, 0);

  identity = companion_identity_new_from_secret (secret, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (companion_identity_get_public_key (identity), 32, public_key, 32);

  fingerprint = companion_identity_dup_fingerprint (identity);
  g_assert_cmpstr (fingerprint, ==, "32e0-d12e-40f3");
  from_key = companion_identity_fingerprint_for_public_key (public_key);
  g_assert_cmpstr (from_key, ==, fingerprint);
}

static void
test_identity_zero_refused (void)
{
  guint8 zero[COMPANION_IDENTITY_KEY_SIZE] = { 0 };
  g_autoptr(CompanionIdentity) identity = NULL;
  g_autoptr(GError) error = NULL;

  identity = companion_identity_new_from_secret (zero, &error);
  g_assert_null (identity);
  g_assert_error (error, COMPANION_IDENTITY_ERROR, COMPANION_IDENTITY_ERROR_INVALID_KEY);
}

/* File key store */

static CompanionKeyStore *
new_file_store (const char *state_dir)
{
  return COMPANION_KEY_STORE (companion_file_key_store_new (state_dir));
}

static void
test_file_store_round_trip (void)
{
  g_autofree char *parent = make_state_dir ();
  g_autofree char *dir = g_build_filename (parent, "not-yet", NULL);
  g_autoptr(CompanionKeyStore) store = new_file_store (dir);
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(CompanionIdentity) other = companion_identity_generate ();
  g_autoptr(CompanionIdentity) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, "identity.key", NULL);
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_cmpstr (companion_file_key_store_get_path (COMPANION_FILE_KEY_STORE (store)), ==, path);
  g_assert_nonnull (strstr (companion_key_store_describe (store), "identity.key"));
  g_assert_nonnull (strstr (companion_key_store_describe (store), "not encrypted"));

  /* Nothing stored yet, not even the folder. */
  loaded = companion_key_store_load_identity (store, &error);
  g_assert_no_error (error);
  g_assert_null (loaded);

  g_assert_true (companion_key_store_save_identity (store, identity, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (dir), ==, 0700);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpmem (contents, len, companion_identity_get_secret_key (identity), 32);

  loaded = companion_key_store_load_identity (store, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_true (companion_identity_equal (loaded, identity));
  g_clear_object (&loaded);

  /* Saving again replaces it, still 0600, and leaves no temporary file. */
  g_assert_true (companion_key_store_save_identity (store, other, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  loaded = companion_key_store_load_identity (store, &error);
  g_assert_no_error (error);
  g_assert_true (companion_identity_equal (loaded, other));
  g_clear_object (&loaded);
  {
    g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
    guint n = 0;

    while (g_dir_read_name (listing) != NULL)
      n++;
    g_assert_cmpuint (n, ==, 1);
  }

  g_assert_true (companion_key_store_delete_identity (store, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  loaded = companion_key_store_load_identity (store, &error);
  g_assert_no_error (error);
  g_assert_null (loaded);
  /* Deleting nothing is fine. */
  g_assert_true (companion_key_store_delete_identity (store, &error));
  g_assert_no_error (error);

  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
test_file_store_tightens_dir (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(CompanionKeyStore) store = new_file_store (dir);
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  g_assert_true (companion_key_store_save_identity (store, identity, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (dir), ==, 0700);
}

static void
assert_load_fails (CompanionKeyStore *store,
                   int                code,
                   const char        *path,
                   CompanionIdentity *identity)
{
  g_autoptr(CompanionIdentity) loaded = NULL;
  g_autoptr(GError) error = NULL;

  loaded = companion_key_store_load_identity (store, &error);
  g_assert_null (loaded);
  g_assert_error (error, COMPANION_KEY_STORE_ERROR, code);
  g_test_message ("expected error: %s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  if (identity != NULL)
    assert_no_key_in (error->message, identity);
}

static void
test_file_store_insecure (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "identity.key", NULL);
  g_autoptr(CompanionKeyStore) store = new_file_store (dir);
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  const int modes[] = { 0644, 0640, 0604, 0660, 0602 };
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_key_store_save_identity (store, identity, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_assert_cmpint (g_chmod (path, modes[i]), ==, 0);
      assert_load_fails (store, COMPANION_KEY_STORE_ERROR_INSECURE_PERMISSIONS, path, identity);
    }

  /* Made private again, it is accepted; 0400 is fine too. */
  g_assert_cmpint (g_chmod (path, 0400), ==, 0);
  {
    g_autoptr(CompanionIdentity) loaded = companion_key_store_load_identity (store, &error);

    g_assert_no_error (error);
    g_assert_true (companion_identity_equal (loaded, identity));
  }
}

static void
test_file_store_corrupt (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "identity.key", NULL);
  g_autoptr(CompanionKeyStore) store = new_file_store (dir);
  guint8 bytes[64];
  const gsize sizes[] = { 0, 1, 31, 33, 64 };

  randombytes_buf (bytes, sizeof bytes);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      write_file (path, bytes, sizes[i], 0600);
      assert_load_fails (store, COMPANION_KEY_STORE_ERROR_CORRUPT, path, NULL);
    }

  /* 32 zero bytes are the right size but no key. */
  memset (bytes, 0, sizeof bytes);
  write_file (path, bytes, 32, 0600);
  assert_load_fails (store, COMPANION_KEY_STORE_ERROR_CORRUPT, path, NULL);
}

static void
test_file_store_not_regular (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "identity.key", NULL);
  g_autofree char *target = g_build_filename (dir, "elsewhere.key", NULL);
  g_autoptr(CompanionKeyStore) store = new_file_store (dir);
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(GError) error = NULL;

  /* A folder in its place: loading and saving both fail and say where. */
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  assert_load_fails (store, COMPANION_KEY_STORE_ERROR_CORRUPT, path, NULL);
  g_assert_false (companion_key_store_save_identity (store, identity, &error));
  g_assert_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED);
  g_test_message ("expected error: %s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_cmpint (g_rmdir (path), ==, 0);

  /* A symbolic link, even to a good key file. */
  write_file (target, companion_identity_get_secret_key (identity), 32, 0600);
  g_assert_cmpint (symlink (target, path), ==, 0);
  assert_load_fails (store, COMPANION_KEY_STORE_ERROR_CORRUPT, path, NULL);
  g_assert_cmpint (g_unlink (path), ==, 0);

  /* A FIFO must not block the load. */
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  assert_load_fails (store, COMPANION_KEY_STORE_ERROR_CORRUPT, path, NULL);
  g_assert_cmpint (g_unlink (path), ==, 0);

  /* The state folder is a file. */
  {
    g_autofree char *file_dir = g_build_filename (dir, "plain-file", NULL);
    g_autoptr(CompanionKeyStore) bad = new_file_store (file_dir);
    g_autoptr(CompanionIdentity) loaded = NULL;

    write_file (file_dir, "x", 1, 0600);
    loaded = companion_key_store_load_identity (bad, &error);
    g_assert_null (loaded);
    g_assert_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, file_dir));
    g_clear_error (&error);
    g_assert_false (companion_key_store_save_identity (bad, identity, &error));
    g_assert_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED);
    g_test_message ("expected error: %s", error->message);
    g_assert_nonnull (strstr (error->message, file_dir));
  }
}

/* Secret Service, through libsecret's file backend (no D-Bus). */

static void
test_secret_store_two_dirs (void)
{
  g_autofree char *dir_a = make_state_dir ();
  g_autofree char *dir_b = make_state_dir ();
  g_autoptr(CompanionSecretKeyStore) store_a = companion_secret_key_store_new (dir_a);
  g_autoptr(CompanionSecretKeyStore) store_b = companion_secret_key_store_new (dir_b);
  CompanionKeyStore *a = COMPANION_KEY_STORE (store_a);
  CompanionKeyStore *b = COMPANION_KEY_STORE (store_b);
  g_autoptr(CompanionIdentity) id_a = companion_identity_generate ();
  g_autoptr(CompanionIdentity) id_b = companion_identity_generate ();
  g_autoptr(CompanionIdentity) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *keyring = NULL;
  gsize keyring_len = 0;

  g_assert_cmpstr (companion_key_store_describe (a), ==, "Secret Service");
  g_assert_cmpstr (companion_secret_key_store_get_state_dir (store_a), ==, dir_a);

  loaded = companion_key_store_load_identity (a, &error);
  g_assert_no_error (error);
  g_assert_null (loaded);

  g_assert_true (companion_key_store_save_identity (a, id_a, &error));
  g_assert_no_error (error);
  g_assert_true (companion_key_store_save_identity (b, id_b, &error));
  g_assert_no_error (error);

  loaded = companion_key_store_load_identity (a, &error);
  g_assert_no_error (error);
  g_assert_true (companion_identity_equal (loaded, id_a));
  g_clear_object (&loaded);
  loaded = companion_key_store_load_identity (b, &error);
  g_assert_no_error (error);
  g_assert_true (companion_identity_equal (loaded, id_b));
  g_clear_object (&loaded);

  /* Another object for the same folder (spelled differently) finds it. */
  {
    g_autofree char *spelled = g_strconcat (dir_a, "/./", NULL);
    g_autoptr(CompanionSecretKeyStore) again = companion_secret_key_store_new (spelled);

    loaded = companion_key_store_load_identity (COMPANION_KEY_STORE (again), &error);
    g_assert_no_error (error);
    g_assert_true (companion_identity_equal (loaded, id_a));
    g_clear_object (&loaded);
  }

  /* The keyring file holds the keys encrypted, and nothing was written to the folders. */
  g_assert_true (g_file_get_contents (keyring_path, &keyring, &keyring_len, NULL));
  g_assert_cmpuint (keyring_len, >, 0);
  g_assert_false (contains_bytes ((const guint8 *) keyring, keyring_len,
                                  companion_identity_get_secret_key (id_a), 32));
  g_assert_false (contains_bytes ((const guint8 *) keyring, keyring_len,
                                  companion_identity_get_secret_key (id_b), 32));
  {
    g_autofree char *key_file = g_build_filename (dir_a, "identity.key", NULL);

    g_assert_false (g_file_test (key_file, G_FILE_TEST_EXISTS));
  }

  /* Replacing and deleting one leaves the other alone. */
  g_assert_true (companion_key_store_save_identity (a, id_b, &error));
  g_assert_no_error (error);
  loaded = companion_key_store_load_identity (a, &error);
  g_assert_no_error (error);
  g_assert_true (companion_identity_equal (loaded, id_b));
  g_clear_object (&loaded);

  g_assert_true (companion_key_store_delete_identity (a, &error));
  g_assert_no_error (error);
  loaded = companion_key_store_load_identity (a, &error);
  g_assert_no_error (error);
  g_assert_null (loaded);
  g_assert_true (companion_key_store_delete_identity (a, &error));
  g_assert_no_error (error);

  loaded = companion_key_store_load_identity (b, &error);
  g_assert_no_error (error);
  g_assert_true (companion_identity_equal (loaded, id_b));
  g_clear_object (&loaded);
  g_assert_true (companion_key_store_delete_identity (b, &error));
  g_assert_no_error (error);

  g_assert_finalize_object (g_steal_pointer (&store_a));
  g_assert_finalize_object (g_steal_pointer (&store_b));
}

static void
test_open_desktop_secret_service (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(CompanionKeyStore) store = NULL;
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(CompanionIdentity) loaded = NULL;
  g_autoptr(GError) error = NULL;
  gboolean is_fallback = TRUE;

  store = companion_key_store_open_desktop (dir, &is_fallback, &error);
  g_assert_no_error (error);
  g_assert_false (is_fallback);
  g_assert_true (COMPANION_IS_SECRET_KEY_STORE (store));
  g_assert_true (companion_key_store_save_identity (store, identity, &error));
  g_assert_no_error (error);
  g_clear_object (&store);

  store = companion_key_store_open_desktop (dir, NULL, &error);
  g_assert_no_error (error);
  loaded = companion_key_store_load_identity (store, &error);
  g_assert_no_error (error);
  g_assert_true (companion_identity_equal (loaded, identity));
  g_assert_true (companion_key_store_delete_identity (store, &error));
  g_assert_no_error (error);
}

/* A key file left by a fallback run moves into the Secret Service. */
static void
test_open_desktop_migrates (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "identity.key", NULL);
  g_autoptr(CompanionKeyStore) file_store = new_file_store (dir);
  g_autoptr(CompanionKeyStore) store = NULL;
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(CompanionIdentity) loaded = NULL;
  g_autoptr(GError) error = NULL;
  gboolean is_fallback = TRUE;

  g_assert_true (companion_key_store_save_identity (file_store, identity, &error));
  g_assert_no_error (error);

  store = companion_key_store_open_desktop (dir, &is_fallback, &error);
  g_assert_no_error (error);
  g_assert_false (is_fallback);
  g_assert_true (COMPANION_IS_SECRET_KEY_STORE (store));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  loaded = companion_key_store_load_identity (store, &error);
  g_assert_no_error (error);
  g_assert_true (companion_identity_equal (loaded, identity));
  g_clear_object (&loaded);

  /* A key file with another identity than the Secret Service is left alone. */
  {
    g_autoptr(CompanionIdentity) other = companion_identity_generate ();

    g_assert_true (companion_key_store_save_identity (file_store, other, &error));
    g_assert_no_error (error);
    g_clear_object (&store);
    store = companion_key_store_open_desktop (dir, &is_fallback, &error);
    g_assert_no_error (error);
    g_assert_false (is_fallback);
    g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
    loaded = companion_key_store_load_identity (store, &error);
    g_assert_no_error (error);
    g_assert_true (companion_identity_equal (loaded, identity));
    g_clear_object (&loaded);
  }

  g_assert_true (companion_key_store_delete_identity (store, &error));
  g_assert_no_error (error);
}

/* How a session without a Secret Service looks to libsecret (measured):
 * a bus address leading nowhere gives G_IO_ERROR; no address and no
 * $DISPLAY, G_IO_ERROR ("Cannot autolaunch"); no address with a $DISPLAY
 * and no dbus-launch, G_SPAWN_ERROR. */
typedef enum
{
  NO_BUS_AT_ADDRESS,
  NO_BUS_NO_DISPLAY,
  NO_BUS_AUTOLAUNCH_FAILS,
} NoBus;

static void
set_no_bus_env (NoBus how)
{
  g_autofree char *bus = g_strdup_printf ("unix:path=%s/no-such-bus", base_dir);
  g_autofree char *empty = g_build_filename (base_dir, "empty-path", NULL);

  g_unsetenv ("SECRET_BACKEND");
  g_unsetenv ("DBUS_STARTER_ADDRESS");
  g_unsetenv ("DBUS_STARTER_BUS_TYPE");
  switch (how)
    {
    case NO_BUS_AT_ADDRESS:
      g_setenv ("DBUS_SESSION_BUS_ADDRESS", bus, TRUE);
      break;

    case NO_BUS_NO_DISPLAY:
      /* $XDG_RUNTIME_DIR/bus is tried next: the isolated one has none. */
      g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
      g_unsetenv ("DISPLAY");
      break;

    case NO_BUS_AUTOLAUNCH_FAILS:
      g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
      g_setenv ("DISPLAY", ":99", TRUE);
      g_assert_cmpint (g_mkdir_with_parents (empty, 0700), ==, 0);
      g_setenv ("PATH", empty, TRUE); /* no dbus-launch */
      break;

    default:
      g_assert_not_reached ();
    }
}

/* With no Secret Service at all. libsecret state is per process, hence the
 * subprocess. */
static void
test_open_desktop_fallback (gconstpointer data)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = make_state_dir ();
      g_autoptr(CompanionKeyStore) store = NULL;
      g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
      g_autoptr(CompanionIdentity) loaded = NULL;
      g_autoptr(GError) error = NULL;
      gboolean is_fallback = FALSE;

      set_no_bus_env ((NoBus) GPOINTER_TO_INT (data));

      store = companion_key_store_open_desktop (dir, &is_fallback, &error);
      g_assert_no_error (error);
      g_assert_true (is_fallback);
      g_assert_true (COMPANION_IS_FILE_KEY_STORE (store));
      g_assert_nonnull (strstr (companion_key_store_describe (store), "not encrypted"));

      g_assert_true (companion_key_store_save_identity (store, identity, &error));
      g_assert_no_error (error);
      g_clear_object (&store);

      /* Still no Secret Service: the same file is found again. */
      store = companion_key_store_open_desktop (dir, &is_fallback, &error);
      g_assert_no_error (error);
      g_assert_true (is_fallback);
      loaded = companion_key_store_load_identity (store, &error);
      g_assert_no_error (error);
      g_assert_true (companion_identity_equal (loaded, identity));

      /* The Secret Service store on its own says why it cannot work. */
      {
        g_autoptr(CompanionSecretKeyStore) secret = companion_secret_key_store_new (dir);
        g_autoptr(CompanionIdentity) none = NULL;

        none = companion_key_store_load_identity (COMPANION_KEY_STORE (secret), &error);
        g_assert_null (none);
        g_assert_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_UNAVAILABLE);
        g_test_message ("expected error: %s", error->message);
        g_clear_error (&error);
        g_assert_false (companion_key_store_save_identity (COMPANION_KEY_STORE (secret),
                                                           identity, &error));
        g_assert_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_UNAVAILABLE);
        g_clear_error (&error);
      }
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* A session bus with no Secret Service on it (a desktop without a keyring
 * daemon): libsecret fails with G_DBUS_ERROR_SERVICE_UNKNOWN. */
static void
test_open_desktop_fallback_no_service (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = make_state_dir ();
      g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
      g_autoptr(CompanionKeyStore) store = NULL;
      g_autoptr(GError) error = NULL;
      gboolean is_fallback = FALSE;

      g_unsetenv ("SECRET_BACKEND");
      g_test_dbus_up (bus);

      store = companion_key_store_open_desktop (dir, &is_fallback, &error);
      g_assert_no_error (error);
      g_assert_true (is_fallback);
      g_assert_true (COMPANION_IS_FILE_KEY_STORE (store));

      /* Only the daemon: libsecret keeps its connection to the end. */
      g_test_dbus_stop (bus);
      return;
    }

  {
    g_autofree char *daemon = g_find_program_in_path ("dbus-daemon");

    if (daemon == NULL)
      {
        g_test_skip ("dbus-daemon is not installed");
        return;
      }
  }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* Pairing record */

static void
fill_key (guint8 *key,
          guint8  seed)
{
  for (guint i = 0; i < 32; i++)
    key[i] = (guint8) (seed + i * 13 + 1);
}

static void
test_record_round_trip (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "pairing.json", NULL);
  g_autoptr(CompanionPairingRecord) record = companion_pairing_record_new ();
  g_autoptr(CompanionPairingRecord) loaded = NULL;
  g_autoptr(GError) error = NULL;
  const char *name = "Pixel 8 — Zoë’s 📱 שלום";
  const char *addresses[] = { "192.168.1.20:47390", "[2001:db8:0::1]:47391", NULL };
  const char * const *got;
  guint8 peer[32], denied[32];

  fill_key (peer, 1);
  fill_key (denied, 2);

  g_assert_false (companion_pairing_record_has_peer (record));
  g_assert_null (companion_pairing_record_get_peer_public_key (record));
  g_assert_null (companion_pairing_record_get_addresses (record)[0]);

  g_assert_true (companion_pairing_record_set_peer (record, peer, name, 1700000000, &error));
  g_assert_no_error (error);
  g_assert_true (companion_pairing_record_set_addresses (record, addresses, &error));
  g_assert_no_error (error);
  companion_pairing_record_set_last_seen (record, 1700000123);
  companion_pairing_record_deny (record, denied);

  g_assert_true (companion_pairing_record_save (record, dir, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (path), ==, 0600);

  loaded = companion_pairing_record_load (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_true (companion_pairing_record_has_peer (loaded));
  g_assert_cmpmem (companion_pairing_record_get_peer_public_key (loaded), 32, peer, 32);
  g_assert_cmpstr (companion_pairing_record_get_peer_name (loaded), ==, name);
  g_assert_cmpint (companion_pairing_record_get_paired_since (loaded), ==, 1700000000);
  g_assert_cmpint (companion_pairing_record_get_last_seen (loaded), ==, 1700000123);
  got = companion_pairing_record_get_addresses (loaded);
  g_assert_cmpstr (got[0], ==, "192.168.1.20:47390");
  g_assert_cmpstr (got[1], ==, "[2001:db8::1]:47391"); /* normalised */
  g_assert_null (got[2]);
  g_assert_cmpuint (companion_pairing_record_get_n_denied (loaded), ==, 1);
  g_assert_cmpmem (companion_pairing_record_get_denied (loaded, 0), 32, denied, 32);
  g_assert_true (companion_pairing_record_is_denied (loaded, denied));
  g_assert_false (companion_pairing_record_is_denied (loaded, peer));

  /* Saved again unchanged, the file is byte for byte the same. */
  {
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;

    g_assert_true (g_file_get_contents (path, &first, NULL, NULL));
    g_assert_true (companion_pairing_record_save (loaded, dir, &error));
    g_assert_no_error (error);
    g_assert_true (g_file_get_contents (path, &second, NULL, NULL));
    g_assert_cmpstr (first, ==, second);
  }

  /* No peer at all. */
  g_clear_object (&record);
  g_clear_object (&loaded);
  record = companion_pairing_record_new ();
  g_assert_true (companion_pairing_record_save (record, dir, &error));
  g_assert_no_error (error);
  loaded = companion_pairing_record_load (dir, &error);
  g_assert_no_error (error);
  g_assert_false (companion_pairing_record_has_peer (loaded));
  g_assert_cmpuint (companion_pairing_record_get_n_denied (loaded), ==, 0);

  g_assert_finalize_object (g_steal_pointer (&loaded));
}

static void
test_record_missing (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *absent = g_build_filename (dir, "absent", NULL);
  g_autoptr(CompanionPairingRecord) record = NULL;
  g_autoptr(GError) error = NULL;

  record = companion_pairing_record_load (dir, &error);
  g_assert_no_error (error);
  g_assert_null (record);
  record = companion_pairing_record_load (absent, &error);
  g_assert_no_error (error);
  g_assert_null (record);

  /* Deleting nothing creates nothing. */
  g_assert_true (companion_pairing_record_delete (absent, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (absent, G_FILE_TEST_EXISTS));
}

static void
test_record_delete_keeps_denylist (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "pairing.json", NULL);
  g_autoptr(CompanionPairingRecord) record = companion_pairing_record_new ();
  g_autoptr(CompanionPairingRecord) loaded = NULL;
  g_autoptr(GError) error = NULL;
  const char *addresses[] = { "10.0.0.2:47390", NULL };
  guint8 peer[32], old[32];
  g_autofree char *contents = NULL;
  g_autofree char *peer_hex = NULL;

  fill_key (peer, 10);
  fill_key (old, 20);
  peer_hex = g_malloc (65);
  sodium_bin2hex (peer_hex, 65, peer, 32);

  g_assert_true (companion_pairing_record_set_peer (record, peer, "Phone", 1700000000, &error));
  g_assert_no_error (error);
  g_assert_true (companion_pairing_record_set_addresses (record, addresses, &error));
  g_assert_no_error (error);
  companion_pairing_record_deny (record, old);
  g_assert_true (companion_pairing_record_save (record, dir, &error));
  g_assert_no_error (error);

  g_assert_true (companion_pairing_record_delete (dir, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (path), ==, 0600);

  loaded = companion_pairing_record_load (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_false (companion_pairing_record_has_peer (loaded));
  g_assert_null (companion_pairing_record_get_peer_name (loaded));
  g_assert_null (companion_pairing_record_get_addresses (loaded)[0]);
  g_assert_cmpuint (companion_pairing_record_get_n_denied (loaded), ==, 2);
  g_assert_true (companion_pairing_record_is_denied (loaded, old));
  g_assert_true (companion_pairing_record_is_denied (loaded, peer));

  /* The file names the unlinked peer only in the denylist. */
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, "Phone"));
  g_assert_null (strstr (contents, "10.0.0.2"));
  g_assert_nonnull (strstr (contents, peer_hex));

  /* The unlinked peer cannot be set again unless its refusal is lifted. */
  g_assert_false (companion_pairing_record_set_peer (loaded, peer, "Phone", 1700000500, &error));
  g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (companion_pairing_record_undeny (loaded, peer));
  g_assert_false (companion_pairing_record_undeny (loaded, peer));
  g_assert_true (companion_pairing_record_set_peer (loaded, peer, "Phone", 1700000500, &error));
  g_assert_no_error (error);

  /* Deleting twice is fine. */
  g_assert_true (companion_pairing_record_delete (dir, &error));
  g_assert_no_error (error);
  g_assert_true (companion_pairing_record_delete (dir, &error));
  g_assert_no_error (error);
}

static void
test_record_denylist_cap (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(CompanionPairingRecord) record = companion_pairing_record_new ();
  g_autoptr(CompanionPairingRecord) loaded = NULL;
  g_autoptr(GError) error = NULL;
  guint8 key[32] = { 0 };

  for (guint i = 0; i < 300; i++)
    {
      key[0] = (guint8) (i & 0xff);
      key[1] = (guint8) (i >> 8);
      key[2] = 1;
      companion_pairing_record_deny (record, key);
      companion_pairing_record_deny (record, key); /* no duplicates */
    }
  g_assert_cmpuint (companion_pairing_record_get_n_denied (record),
                    ==, COMPANION_PAIRING_RECORD_MAX_DENIED);
  /* The oldest went first. */
  g_assert_cmpuint (companion_pairing_record_get_denied (record, 0)[0], ==, 300 - 256);

  g_assert_true (companion_pairing_record_save (record, dir, &error));
  g_assert_no_error (error);
  loaded = companion_pairing_record_load (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (companion_pairing_record_get_n_denied (loaded),
                    ==, COMPANION_PAIRING_RECORD_MAX_DENIED);
  g_assert_true (companion_pairing_record_is_denied (loaded, key));
}

static void
test_record_setters_refuse (void)
{
  g_autoptr(CompanionPairingRecord) record = companion_pairing_record_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *long_name = g_strnfill (129, 'a');
  g_autofree char *max_name = g_strnfill (128, 'a');
  const char *bad_names[] = { long_name, "bad \xff utf-8", "bell\a", "new\nline", "\xc2\x85" };
  const char *nine[] = { "10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:3", "10.0.0.1:4", "10.0.0.1:5",
                         "10.0.0.1:6", "10.0.0.1:7", "10.0.0.1:8", "10.0.0.1:9", NULL };
  const char *bad_addresses[] = { "example.com:80", "10.0.0.1:0", "10.0.0.1", "10.0.0.1:65536",
                                  "::1:80", "", "[::1]", "\xff:1" };
  guint8 key[32], zero[32] = { 0 };

  fill_key (key, 3);

  for (guint i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      g_assert_false (companion_pairing_record_set_peer (record, key, bad_names[i], 0, &error));
      g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR,
                      COMPANION_PAIRING_RECORD_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (companion_pairing_record_has_peer (record));
    }
  g_assert_false (companion_pairing_record_set_peer (record, zero, "Phone", 0, &error));
  g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (companion_pairing_record_set_peer (record, key, max_name, 0, &error));
  g_assert_no_error (error);
  g_assert_true (companion_pairing_record_set_peer_name (record, "", &error));
  g_assert_no_error (error);
  g_assert_false (companion_pairing_record_set_peer_name (record, long_name, &error));
  g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpstr (companion_pairing_record_get_peer_name (record), ==, "");

  g_assert_true (companion_pairing_record_set_addresses (record, nine + 1, &error));
  g_assert_no_error (error);
  g_assert_false (companion_pairing_record_set_addresses (record, nine, &error));
  g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_INVALID);
  g_clear_error (&error);
  for (guint i = 0; i < G_N_ELEMENTS (bad_addresses); i++)
    {
      const char *list[] = { "10.0.0.1:47390", bad_addresses[i], NULL };

      g_assert_false (companion_pairing_record_set_addresses (record, list, &error));
      g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR,
                      COMPANION_PAIRING_RECORD_ERROR_INVALID);
      g_test_message ("expected error: %s", error->message);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_clear_error (&error);
    }
  /* A refused list changes nothing. */
  g_assert_cmpstr (companion_pairing_record_get_addresses (record)[7], ==, "10.0.0.1:9");
}

typedef struct
{
  const char *json;
  const char *field;  /* what the message must name besides the file */
  int         code;
} CorruptCase;

#define KEY_A "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define PEER(members) "{\"version\":1,\"denylist\":[],\"peer\":{" members "}}"
#define GOOD_PEER_BUT(members) \
  PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"P\",\"paired-since\":1," members)

static const CorruptCase corrupt_cases[] = {
  { "", "empty", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "not json", "JSON", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[]} trailing", "JSON", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[]", "JSON", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "[]", "object", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "null", "object", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "42", "object", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{}", "version", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":\"1\",\"denylist\":[]}", "version", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1.0,\"denylist\":[]}", "version", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":null,\"denylist\":[]}", "version", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":2,\"denylist\":[]}", "version 2",
    COMPANION_PAIRING_RECORD_ERROR_UNSUPPORTED_VERSION },
  { "{\"version\":-1,\"denylist\":[]}", "version -1",
    COMPANION_PAIRING_RECORD_ERROR_UNSUPPORTED_VERSION },
  { "{\"version\":1}", "denylist", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":{}}", "denylist", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":\"x\"}", "denylist", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[1]}", "denylist[0]", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[\"" KEY_A "\",\"abc\"]}", "denylist[1]",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[[]]}", "denylist[0]", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[\"" KEY_A "0\"]}", "denylist[0]",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[\"zz02030405060708090a0b0c0d0e0f10"
    "1112131415161718191a1b1c1d1e1f20\"]}",
    "denylist[0]", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[\"00000000000000000000000000000000"
    "00000000000000000000000000000000\"]}",
    "denylist[0]", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[],\"peer\":[]}", "peer", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { "{\"version\":1,\"denylist\":[],\"peer\":\"x\"}", "peer",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER (""), "peer.public-key", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":12"), "peer.public-key", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"0102\""), "peer.public-key", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\""), "peer.name", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":5"), "peer.name",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":null"), "peer.name",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"bell\\u0007\""), "peer.name",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"" /* 129 bytes */
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "a\""), "peer.name",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"P\""), "peer.paired-since",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"P\",\"paired-since\":\"1\""),
    "peer.paired-since", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"P\",\"paired-since\":1.5"),
    "peer.paired-since", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"P\",\"paired-since\":-1"),
    "peer.paired-since", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"P\",\"paired-since\":1e300"),
    "peer.paired-since", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"P\",\"paired-since\":9223372036854775807"),
    "peer.paired-since", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"addresses\":[]"), "peer.last-seen", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"last-seen\":true,\"addresses\":[]"), "peer.last-seen",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"last-seen\":2"), "peer.addresses", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"last-seen\":2,\"addresses\":{}"), "peer.addresses",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"last-seen\":2,\"addresses\":[5]"), "peer.addresses[0]",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"last-seen\":2,\"addresses\":[\"1.2.3.4:5\",\"example.com:80\"]"),
    "peer.addresses[1]", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"last-seen\":2,\"addresses\":[\"1.2.3.4:0\"]"), "peer.addresses[0]",
    COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
  { GOOD_PEER_BUT ("\"last-seen\":2,\"addresses\":[\"1.2.3.4:1\",\"1.2.3.4:2\",\"1.2.3.4:3\","
                   "\"1.2.3.4:4\",\"1.2.3.4:5\",\"1.2.3.4:6\",\"1.2.3.4:7\",\"1.2.3.4:8\","
                   "\"1.2.3.4:9\"]"),
    "peer.addresses", COMPANION_PAIRING_RECORD_ERROR_CORRUPT },
};

static void
assert_record_fails (const char *dir,
                     const char *path,
                     const char *field,
                     int         code)
{
  g_autoptr(CompanionPairingRecord) record = NULL;
  g_autoptr(GError) error = NULL;

  record = companion_pairing_record_load (dir, &error);
  g_assert_null (record);
  g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, code);
  g_test_message ("expected error: %s", error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, path));
  if (field != NULL && strstr (error->message, field) == NULL)
    g_error ("The message “%s” does not name “%s”", error->message, field);
}

static void
test_record_corrupt (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "pairing.json", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (corrupt_cases); i++)
    {
      const CorruptCase *c = &corrupt_cases[i];

      write_file (path, c->json, strlen (c->json), 0600);
      assert_record_fails (dir, path, c->field, c->code);
    }

  /* The good base of those cases loads. */
  {
    const char *good = GOOD_PEER_BUT ("\"last-seen\":2,\"addresses\":[\"1.2.3.4:5\"],"
                                      "\"future\":{\"a\":[1]}");
    g_autoptr(CompanionPairingRecord) record = NULL;
    g_autoptr(GError) error = NULL;

    write_file (path, good, strlen (good), 0600);
    record = companion_pairing_record_load (dir, &error);
    g_assert_no_error (error);
    g_assert_true (companion_pairing_record_has_peer (record));
    g_assert_cmpstr (companion_pairing_record_get_addresses (record)[0], ==, "1.2.3.4:5");
  }
}

static void
test_record_hostile (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *path = g_build_filename (dir, "pairing.json", NULL);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  /* Nesting that would exhaust the parser's stack. */
  for (guint i = 0; i < 60000; i++)
    g_string_append_c (text, '[');
  write_file (path, text->str, text->len, 0600);
  assert_record_fails (dir, path, "nested", COMPANION_PAIRING_RECORD_ERROR_CORRUPT);

  /* Brackets inside strings do not count. */
  g_string_assign (text, "{\"version\":1,\"denylist\":[],\"x\":\"[[[[[[[[[[[[[[[[[[[[[\\\"\"}");
  write_file (path, text->str, text->len, 0600);
  {
    g_autoptr(CompanionPairingRecord) record = companion_pairing_record_load (dir, &error);

    g_assert_no_error (error);
    g_assert_nonnull (record);
  }

  /* A huge file, whatever it holds. */
  g_string_assign (text, "{\"version\":1,\"denylist\":[");
  for (guint i = 0; i < 100000; i++)
    g_string_append (text, "\"" KEY_A "\",");
  g_string_append (text, "\"" KEY_A "\"]}");
  write_file (path, text->str, text->len, 0600);
  assert_record_fails (dir, path, "larger", COMPANION_PAIRING_RECORD_ERROR_CORRUPT);

  /* Too many denied keys, in a file of reasonable size. */
  g_string_assign (text, "{\"version\":1,\"denylist\":[");
  for (guint i = 0; i < 257; i++)
    g_string_append_printf (text, "%s\"%064x\"", i > 0 ? "," : "", i + 1);
  g_string_append (text, "]}");
  write_file (path, text->str, text->len, 0600);
  assert_record_fails (dir, path, "denylist", COMPANION_PAIRING_RECORD_ERROR_CORRUPT);

  /* Bytes that are not UTF-8, and a NUL. */
  {
    const char *not_utf8 = "{\"version\":1,\"denylist\":[],\"x\":\"\xff\"}";

    write_file (path, not_utf8, strlen (not_utf8), 0600);
  }
  assert_record_fails (dir, path, "UTF-8", COMPANION_PAIRING_RECORD_ERROR_CORRUPT);
  write_file (path, "{\"version\":1,\0\"denylist\":[]}", 28, 0600);
  assert_record_fails (dir, path, "UTF-8", COMPANION_PAIRING_RECORD_ERROR_CORRUPT);

  /* An escaped lone surrogate in the name. */
  g_string_assign (text, PEER ("\"public-key\":\"" KEY_A "\",\"name\":\"\\ud800\","
                               "\"paired-since\":1,\"last-seen\":1,\"addresses\":[]"));
  write_file (path, text->str, text->len, 0600);
  {
    g_autoptr(CompanionPairingRecord) record = companion_pairing_record_load (dir, &error);

    /* Refused, or read as valid UTF-8: never an invalid name. */
    if (record != NULL)
      g_assert_true (g_utf8_validate (companion_pairing_record_get_peer_name (record), -1, NULL));
    else
      {
        g_test_message ("expected error: %s", error->message);
        g_assert_true (g_utf8_validate (error->message, -1, NULL));
        g_assert_nonnull (strstr (error->message, path));
        g_clear_error (&error);
      }
  }

  /* A folder in its place; delete then fails too and keeps it. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  assert_record_fails (dir, path, "regular file", COMPANION_PAIRING_RECORD_ERROR_CORRUPT);
  g_assert_false (companion_pairing_record_delete (dir, &error));
  g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_CORRUPT);
  g_clear_error (&error);
  {
    g_autoptr(CompanionPairingRecord) record = companion_pairing_record_new ();

    g_assert_false (companion_pairing_record_save (record, dir, &error));
    g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_FAILED);
    g_test_message ("expected error: %s", error->message);
    g_assert_nonnull (strstr (error->message, path));
    g_clear_error (&error);
  }
  g_assert_cmpint (g_rmdir (path), ==, 0);

  /* A corrupt file is not silently replaced by delete. */
  write_file (path, "garbage", 7, 0600);
  g_assert_false (companion_pairing_record_delete (dir, &error));
  g_assert_error (error, COMPANION_PAIRING_RECORD_ERROR, COMPANION_PAIRING_RECORD_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  {
    g_autofree char *contents = NULL;

    g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
    g_assert_cmpstr (contents, ==, "garbage");
  }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  if (!companion_core_init (&error))
    g_error ("%s", error->message);

  base_dir = g_dir_make_tmp ("companion-test-identity-XXXXXX", &error);
  g_assert_no_error (error);
  keyring_path = g_build_filename (base_dir, "keyring", NULL);

  /* libsecret's file backend: no D-Bus. Set before the first libsecret call. */
  g_setenv ("SECRET_BACKEND", "file", TRUE);
  g_setenv ("SECRET_FILE_TEST_PATH", keyring_path, TRUE);
  g_setenv ("SECRET_FILE_TEST_PASSWORD", "test-identity keyring password", TRUE);

  g_test_add_func ("/identity/generate", test_identity_generate);
  g_test_add_func ("/identity/round-trip", test_identity_round_trip);
  g_test_add_func ("/identity/fingerprint-stable", test_identity_fingerprint_stable);
  g_test_add_func ("/identity/zero-refused", test_identity_zero_refused);
  g_test_add_func ("/file-key-store/round-trip", test_file_store_round_trip);
  g_test_add_func ("/file-key-store/tightens-dir", test_file_store_tightens_dir);
  g_test_add_func ("/file-key-store/insecure", test_file_store_insecure);
  g_test_add_func ("/file-key-store/corrupt", test_file_store_corrupt);
  g_test_add_func ("/file-key-store/not-regular", test_file_store_not_regular);
  g_test_add_func ("/secret-key-store/two-dirs", test_secret_store_two_dirs);
  g_test_add_func ("/secret-key-store/open-desktop", test_open_desktop_secret_service);
  g_test_add_func ("/secret-key-store/open-desktop-migrates", test_open_desktop_migrates);
  g_test_add_data_func ("/secret-key-store/open-desktop-fallback/bus-address-nowhere",
                        GINT_TO_POINTER (NO_BUS_AT_ADDRESS), test_open_desktop_fallback);
  g_test_add_data_func ("/secret-key-store/open-desktop-fallback/no-bus-no-display",
                        GINT_TO_POINTER (NO_BUS_NO_DISPLAY), test_open_desktop_fallback);
  g_test_add_data_func ("/secret-key-store/open-desktop-fallback/autolaunch-fails",
                        GINT_TO_POINTER (NO_BUS_AUTOLAUNCH_FAILS), test_open_desktop_fallback);
  g_test_add_func ("/secret-key-store/open-desktop-fallback/no-secret-service",
                   test_open_desktop_fallback_no_service);
  g_test_add_func ("/pairing-record/round-trip", test_record_round_trip);
  g_test_add_func ("/pairing-record/missing", test_record_missing);
  g_test_add_func ("/pairing-record/delete-keeps-denylist", test_record_delete_keeps_denylist);
  g_test_add_func ("/pairing-record/denylist-cap", test_record_denylist_cap);
  g_test_add_func ("/pairing-record/setters-refuse", test_record_setters_refuse);
  g_test_add_func ("/pairing-record/corrupt", test_record_corrupt);
  g_test_add_func ("/pairing-record/hostile", test_record_hostile);

  status = g_test_run ();

  test_util_remove_tree (base_dir);
  g_clear_pointer (&base_dir, g_free);
  g_clear_pointer (&keyring_path, g_free);
  return status;
}
