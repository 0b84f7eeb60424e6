/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-identity"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-identity.h"

/* Zero-padded to crypto_generichash_blake2b_PERSONALBYTES (16). */
#define FINGERPRINT_PERSONAL "cpn-id-fp-v1\0\0\0"

struct _CompanionIdentity
{
  GObject  parent_instance;

  guint8   public_key[COMPANION_IDENTITY_KEY_SIZE];
  guint8  *secret_key; /* sodium_malloc: locked, wiped on free */
};

G_DEFINE_FINAL_TYPE (CompanionIdentity, companion_identity, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-identity-error-quark, companion_identity_error)

G_STATIC_ASSERT (COMPANION_IDENTITY_KEY_SIZE == crypto_scalarmult_SCALARBYTES);
G_STATIC_ASSERT (COMPANION_IDENTITY_KEY_SIZE == crypto_scalarmult_BYTES);
G_STATIC_ASSERT (sizeof FINGERPRINT_PERSONAL == crypto_generichash_blake2b_PERSONALBYTES);

static void
companion_identity_finalize (GObject *object)
{
  CompanionIdentity *self = COMPANION_IDENTITY (object);

  g_clear_pointer (&self->secret_key, sodium_free);

  G_OBJECT_CLASS (companion_identity_parent_class)->finalize (object);
}

static void
companion_identity_class_init (CompanionIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_identity_finalize;
}

static void
companion_identity_init (CompanionIdentity *self)
{
  self->secret_key = sodium_malloc (COMPANION_IDENTITY_KEY_SIZE);
  g_assert (self->secret_key != NULL);
}

/* Derives the public key from self->secret_key. */
static gboolean
derive_public_key (CompanionIdentity *self)
{
  if (sodium_is_zero (self->secret_key, COMPANION_IDENTITY_KEY_SIZE))
    return FALSE;
  return crypto_scalarmult_base (self->public_key, self->secret_key) == 0;
}

CompanionIdentity *
companion_identity_generate (void)
{
  g_autoptr(CompanionIdentity) self = g_object_new (COMPANION_TYPE_IDENTITY, NULL);

  do
    randombytes_buf (self->secret_key, COMPANION_IDENTITY_KEY_SIZE);
  while (!derive_public_key (self));

  return g_steal_pointer (&self);
}

CompanionIdentity *
companion_identity_new_from_secret (const guint8  *secret,
                                    GError       **error)
{
  g_autoptr(CompanionIdentity) self = NULL;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (COMPANION_TYPE_IDENTITY, NULL);
  memcpy (self->secret_key, secret, COMPANION_IDENTITY_KEY_SIZE);
  if (!derive_public_key (self))
    {
      g_set_error_literal (error, COMPANION_IDENTITY_ERROR, COMPANION_IDENTITY_ERROR_INVALID_KEY,
                           "The identity secret key is all zeros, which is not a usable key");
      return NULL;
    }

  return g_steal_pointer (&self);
}

const guint8 *
companion_identity_get_public_key (CompanionIdentity *self)
{
  g_return_val_if_fail (COMPANION_IS_IDENTITY (self), NULL);
  return self->public_key;
}

const guint8 *
companion_identity_get_secret_key (CompanionIdentity *self)
{
  g_return_val_if_fail (COMPANION_IS_IDENTITY (self), NULL);
  return self->secret_key;
}

gboolean
companion_identity_equal (CompanionIdentity *self,
                          CompanionIdentity *other)
{
  g_return_val_if_fail (COMPANION_IS_IDENTITY (self), FALSE);
  g_return_val_if_fail (COMPANION_IS_IDENTITY (other), FALSE);

  /* The public key follows from the secret one: comparing it is enough. */
  return sodium_memcmp (self->public_key, other->public_key, COMPANION_IDENTITY_KEY_SIZE) == 0;
}

char *
companion_identity_fingerprint_for_public_key (const guint8 *public_key)
{
  guint8 digest[6];
  guint8 key[16] = { 0 };

  g_return_val_if_fail (public_key != NULL, NULL);

  crypto_generichash_blake2b_salt_personal (digest, sizeof digest,
                                            public_key, COMPANION_IDENTITY_KEY_SIZE,
                                            NULL, 0, key,
                                            (const guint8 *) FINGERPRINT_PERSONAL);
  return g_strdup_printf ("%02x%02x-%02x%02x-%02x%02x",
                          digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]);
}

char *
companion_identity_dup_fingerprint (CompanionIdentity *self)
{
  g_return_val_if_fail (COMPANION_IS_IDENTITY (self), NULL);
  return companion_identity_fingerprint_for_public_key (self->public_key);
}
