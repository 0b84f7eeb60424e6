/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-identity.h"

G_BEGIN_DECLS

#define COMPANION_KEY_STORE_ERROR (companion_key_store_error_quark ())

typedef enum
{
  COMPANION_KEY_STORE_ERROR_FAILED,
  /* The store cannot be reached (no Secret Service). */
  COMPANION_KEY_STORE_ERROR_UNAVAILABLE,
  /* The store is reachable but the key is locked (an unlock was refused). */
  COMPANION_KEY_STORE_ERROR_LOCKED,
  /* What is stored is not an identity key (size, type of file, content). */
  COMPANION_KEY_STORE_ERROR_CORRUPT,
  /* A key file others could read or that belongs to someone else. */
  COMPANION_KEY_STORE_ERROR_INSECURE_PERMISSIONS,
} CompanionKeyStoreError;

#define COMPANION_TYPE_KEY_STORE (companion_key_store_get_type ())

G_DECLARE_INTERFACE (CompanionKeyStore, companion_key_store, COMPANION, KEY_STORE, GObject)

/* Where the long-term identity of one state folder is kept (DESIGN.md,
 * "Desktop store"). The calls block: run them off the UI thread. */
struct _CompanionKeyStoreInterface
{
  GTypeInterface parent_iface;

  CompanionIdentity *(*load_identity)   (CompanionKeyStore  *self,
                                         GError            **error);
  gboolean           (*save_identity)   (CompanionKeyStore  *self,
                                         CompanionIdentity  *identity,
                                         GError            **error);
  gboolean           (*delete_identity) (CompanionKeyStore  *self,
                                         GError            **error);
  const char        *(*describe)        (CompanionKeyStore  *self);
};

GQuark             companion_key_store_error_quark  (void);

/* NULL with no error when no identity is stored. */
CompanionIdentity *companion_key_store_load_identity   (CompanionKeyStore  *self,
                                                        GError            **error);
/* Replaces any stored identity. */
gboolean           companion_key_store_save_identity   (CompanionKeyStore  *self,
                                                        CompanionIdentity  *identity,
                                                        GError            **error);
/* Succeeds when there was nothing to delete. */
gboolean           companion_key_store_delete_identity (CompanionKeyStore  *self,
                                                        GError            **error);
/* For people: "Secret Service", "file ~/…/identity.key (not encrypted)". */
const char        *companion_key_store_describe        (CompanionKeyStore  *self);
/* The stored identity, or a new one generated and saved when there is none. */
CompanionIdentity *companion_key_store_load_or_create_identity (CompanionKeyStore *self,
                                                                GError           **error);

G_END_DECLS
