/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-key-store.h"

G_BEGIN_DECLS

/* The libsecret schema; its "state-dir" attribute keys one identity per
 * state folder, so several instances can run side by side. */
#define COMPANION_SECRET_KEY_STORE_SCHEMA "io.github.companiondesk.Companion.Identity"

#define COMPANION_TYPE_SECRET_KEY_STORE (companion_secret_key_store_get_type ())

G_DECLARE_FINAL_TYPE (CompanionSecretKeyStore, companion_secret_key_store,
                      COMPANION, SECRET_KEY_STORE, GObject)

/* The identity in the Secret Service (or the Secret portal in Flatpak). Only
 * this file links libsecret: use secret_store_dep. */
CompanionSecretKeyStore *companion_secret_key_store_new            (const char *state_dir);
const char              *companion_secret_key_store_get_state_dir  (CompanionSecretKeyStore *self);

/* The desktop's key store for STATE_DIR: the Secret Service when it answers,
 * otherwise a CompanionFileKeyStore with *OUT_IS_FALLBACK set to TRUE, so
 * that the caller can warn that the key is kept unencrypted. A key file left
 * from an earlier fallback is moved into the Secret Service when that holds
 * no identity yet. Errors: a Secret Service that answers but fails (a locked
 * keyring, a refused prompt) is an error, never a silent fallback. Blocks. */
CompanionKeyStore       *companion_key_store_open_desktop          (const char *state_dir,
                                                                    gboolean   *out_is_fallback,
                                                                    GError    **error);

G_END_DECLS
