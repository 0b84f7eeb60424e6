/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The fixture loader (companion-phone scan --fixture FILE): fuzzed JSON as
 * fixture.json in a folder that holds the media files of
 * tests/data/fixture-small, loaded into a fresh phone store each time (so
 * an input's result never depends on the one before). A refusal is a
 * fixture, record, store or I/O error with a message; a fixture that loads
 * reports counts that add up to its last seq. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "companion-fixture.h"
#include "companion-phone-store.h"
#include "companion-record.h"
#include "fuzz-input.h"

#ifndef FUZZ_FIXTURE_MEDIA_DIR
#error "FUZZ_FIXTURE_MEDIA_DIR must name tests/data/fixture-small/media"
#endif

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static char *fixture_dir;

static void
set_up (void)
{
  static const char *const names[] = { "sunset.png", "ticket.pdf", "voice-note.wav" };
  g_autofree char *media = NULL;

  fixture_dir = g_build_filename (g_get_tmp_dir (), "fuzz-fixture", NULL);
  media = g_build_filename (fixture_dir, "media", NULL);
  g_assert (g_mkdir_with_parents (media, 0700) == 0);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *from = g_build_filename (FUZZ_FIXTURE_MEDIA_DIR, names[i], NULL);
      g_autofree char *to = g_build_filename (media, names[i], NULL);
      g_autofree char *contents = NULL;
      gsize length = 0;

      g_assert (g_file_get_contents (from, &contents, &length, NULL));
      g_assert (g_file_set_contents (to, contents, (gssize) length, NULL));
    }
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *path = NULL, *state = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = NULL;
  CompanionFixtureCounts counts = { 0 };

  fuzz_init ();
  if (fixture_dir == NULL)
    set_up ();
  path = g_build_filename (fixture_dir, "fixture.json", NULL);
  g_assert (g_file_set_contents (path, (const char *) data, (gssize) size, NULL));
  state = g_build_filename (fixture_dir, "state", NULL);
  remove_tree (state);
  store = companion_phone_store_open (state, &error);
  g_assert_no_error (error);

  if (!companion_fixture_load (store, path, &counts, &error))
    {
      g_assert (error != NULL && error->message != NULL && *error->message != '\0');
      g_assert (error->domain == COMPANION_FIXTURE_ERROR || error->domain == COMPANION_RECORD_ERROR ||
                error->domain == COMPANION_PHONE_STORE_ERROR || error->domain == G_IO_ERROR ||
                error->domain == G_FILE_ERROR);
      return 0;
    }
  g_assert_no_error (error);
  g_assert (counts.last_seq == (guint64) counts.contacts + counts.chats + counts.messages +
                               counts.media + counts.calls);
  return 0;
}
