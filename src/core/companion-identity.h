/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A long-term X25519 identity: the static key of the Noise handshakes
 * (DESIGN.md, "Pairing"). The caller must have called companion_core_init(). */
#define COMPANION_IDENTITY_KEY_SIZE 32

#define COMPANION_IDENTITY_ERROR (companion_identity_error_quark ())

typedef enum
{
  COMPANION_IDENTITY_ERROR_INVALID_KEY,
} CompanionIdentityError;

#define COMPANION_TYPE_IDENTITY (companion_identity_get_type ())

G_DECLARE_FINAL_TYPE (CompanionIdentity, companion_identity, COMPANION, IDENTITY, GObject)

GQuark             companion_identity_error_quark    (void);

CompanionIdentity *companion_identity_generate       (void);
/* SECRET is 32 bytes; it is copied, and refused if all zeros. */
CompanionIdentity *companion_identity_new_from_secret (const guint8       *secret,
                                                       GError            **error);
/* 32 bytes each; the secret key lives in locked memory wiped on finalize. */
const guint8      *companion_identity_get_public_key (CompanionIdentity  *self);
const guint8      *companion_identity_get_secret_key (CompanionIdentity  *self);
gboolean           companion_identity_equal          (CompanionIdentity  *self,
                                                      CompanionIdentity  *other);
/* "xxxx-xxxx-xxxx": safe to show and log, it reveals nothing secret. */
char              *companion_identity_dup_fingerprint (CompanionIdentity *self);
/* The same fingerprint for any 32-byte public key (a peer's, a denied one). */
char              *companion_identity_fingerprint_for_public_key (const guint8 *public_key);

G_END_DECLS
