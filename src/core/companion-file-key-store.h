/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-key-store.h"

G_BEGIN_DECLS

#define COMPANION_FILE_KEY_STORE_FILENAME "identity.key"

#define COMPANION_TYPE_FILE_KEY_STORE (companion_file_key_store_get_type ())

G_DECLARE_FINAL_TYPE (CompanionFileKeyStore, companion_file_key_store,
                      COMPANION, FILE_KEY_STORE, GObject)

/* The fallback store when there is no Secret Service: the raw 32-byte secret
 * key in STATE_DIR/identity.key, mode 0600, NOT encrypted. It refuses a key
 * file that is not a regular file of exactly 32 bytes, that others could read,
 * or that belongs to another user. */
CompanionFileKeyStore *companion_file_key_store_new       (const char *state_dir);
const char            *companion_file_key_store_get_path  (CompanionFileKeyStore *self);

G_END_DECLS
