/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-key-store"

#include "config.h"

#include "companion-identity.h"
#include "companion-key-store.h"

G_DEFINE_INTERFACE (CompanionKeyStore, companion_key_store, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-key-store-error-quark, companion_key_store_error)

static void
companion_key_store_default_init (CompanionKeyStoreInterface *iface)
{
}

CompanionIdentity *
companion_key_store_load_identity (CompanionKeyStore  *self,
                                   GError            **error)
{
  g_return_val_if_fail (COMPANION_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return COMPANION_KEY_STORE_GET_IFACE (self)->load_identity (self, error);
}

gboolean
companion_key_store_save_identity (CompanionKeyStore  *self,
                                   CompanionIdentity  *identity,
                                   GError            **error)
{
  g_return_val_if_fail (COMPANION_IS_KEY_STORE (self), FALSE);
  g_return_val_if_fail (COMPANION_IS_IDENTITY (identity), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return COMPANION_KEY_STORE_GET_IFACE (self)->save_identity (self, identity, error);
}

gboolean
companion_key_store_delete_identity (CompanionKeyStore  *self,
                                     GError            **error)
{
  g_return_val_if_fail (COMPANION_IS_KEY_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return COMPANION_KEY_STORE_GET_IFACE (self)->delete_identity (self, error);
}

const char *
companion_key_store_describe (CompanionKeyStore *self)
{
  g_return_val_if_fail (COMPANION_IS_KEY_STORE (self), NULL);

  return COMPANION_KEY_STORE_GET_IFACE (self)->describe (self);
}

CompanionIdentity *
companion_key_store_load_or_create_identity (CompanionKeyStore *self,
                                             GError           **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CompanionIdentity) identity = NULL;

  g_return_val_if_fail (COMPANION_IS_KEY_STORE (self), NULL);

  identity = companion_key_store_load_identity (self, &local_error);
  if (identity != NULL)
    return g_steal_pointer (&identity);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  identity = companion_identity_generate ();
  if (!companion_key_store_save_identity (self, identity, error))
    return NULL;
  return g_steal_pointer (&identity);
}
