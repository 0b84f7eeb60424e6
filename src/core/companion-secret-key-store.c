/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-secret-key-store"

#include "config.h"

#include <libsecret/secret.h>

#include "companion-file-key-store.h"
#include "companion-secret-key-store.h"

#define CONTENT_TYPE "application/octet-stream"

struct _CompanionSecretKeyStore
{
  GObject  parent_instance;

  char    *state_dir;
};

static void key_store_iface_init (CompanionKeyStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CompanionSecretKeyStore, companion_secret_key_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (COMPANION_TYPE_KEY_STORE,
                                                      key_store_iface_init))

enum {
  PROP_0,
  PROP_STATE_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const SecretSchema *
identity_schema (void)
{
  static const SecretSchema schema = {
    COMPANION_SECRET_KEY_STORE_SCHEMA, SECRET_SCHEMA_NONE,
    {
      { "state-dir", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };

  return &schema;
}

/* Wraps a libsecret error: no service to talk to is UNAVAILABLE, a cancelled
 * prompt LOCKED, the rest FAILED. "No service" is G_IO_ERROR (no bus at the
 * address, no $DISPLAY to autolaunch one), G_DBUS_ERROR (a bus without
 * org.freedesktop.secrets) or G_SPAWN_ERROR (a $DISPLAY but no dbus-launch
 * to autolaunch a bus with). */
static void
propagate_secret_error (GError     **error,
                        GError      *secret_error,
                        const char  *what,
                        const char  *state_dir)
{
  CompanionKeyStoreError code = COMPANION_KEY_STORE_ERROR_FAILED;

  if (g_error_matches (secret_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    code = COMPANION_KEY_STORE_ERROR_LOCKED;
  else if (secret_error->domain == G_IO_ERROR || secret_error->domain == G_DBUS_ERROR ||
           secret_error->domain == G_SPAWN_ERROR)
    code = COMPANION_KEY_STORE_ERROR_UNAVAILABLE;

  g_set_error (error, COMPANION_KEY_STORE_ERROR, code,
               "Cannot %s the identity key of “%s” in the Secret Service: %s",
               what, state_dir, secret_error->message);
}

static CompanionIdentity *
companion_secret_key_store_load_identity (CompanionKeyStore  *store,
                                          GError            **error)
{
  CompanionSecretKeyStore *self = COMPANION_SECRET_KEY_STORE (store);
  g_autoptr(GError) local_error = NULL;
  CompanionIdentity *identity;
  SecretValue *value;
  const char *data;
  gsize len = 0;

  value = secret_password_lookup_binary_sync (identity_schema (), NULL, &local_error,
                                              "state-dir", self->state_dir,
                                              NULL);
  if (local_error != NULL)
    {
      propagate_secret_error (error, local_error, "read", self->state_dir);
      return NULL;
    }

  if (value == NULL)
    {
      GList *items;

      /* No secret may also mean a locked item whose unlock was refused: say
       * so, or the caller would make a new identity and replace it. */
      items = secret_password_search_sync (identity_schema (), SECRET_SEARCH_NONE, NULL,
                                           &local_error,
                                           "state-dir", self->state_dir,
                                           NULL);
      if (local_error != NULL)
        {
          propagate_secret_error (error, local_error, "look up", self->state_dir);
          return NULL;
        }
      if (items != NULL)
        {
          g_list_free_full (items, g_object_unref);
          g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_LOCKED,
                       "The identity key of “%s” is in a locked keyring; unlock it and try again",
                       self->state_dir);
        }
      return NULL;
    }

  data = secret_value_get (value, &len);
  if (len != COMPANION_IDENTITY_KEY_SIZE)
    {
      secret_value_unref (value);
      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_CORRUPT,
                   "The identity key of “%s” in the Secret Service has %" G_GSIZE_FORMAT
                   " bytes instead of %d", self->state_dir, len, COMPANION_IDENTITY_KEY_SIZE);
      return NULL;
    }

  identity = companion_identity_new_from_secret ((const guint8 *) data, &local_error);
  secret_value_unref (value);
  if (identity == NULL)
    g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_CORRUPT,
                 "The identity key of “%s” in the Secret Service is not usable: %s",
                 self->state_dir, local_error->message);

  return identity;
}

static gboolean
companion_secret_key_store_save_identity (CompanionKeyStore  *store,
                                          CompanionIdentity  *identity,
                                          GError            **error)
{
  CompanionSecretKeyStore *self = COMPANION_SECRET_KEY_STORE (store);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *label = NULL;
  SecretValue *value;
  gboolean ok;

  /* libsecret copies the secret into its own non-pageable memory. */
  value = secret_value_new ((const char *) companion_identity_get_secret_key (identity),
                            COMPANION_IDENTITY_KEY_SIZE, CONTENT_TYPE);
  label = g_strdup_printf ("Companion identity key (%s)", self->state_dir);
  ok = secret_password_store_binary_sync (identity_schema (), SECRET_COLLECTION_DEFAULT, label,
                                          value, NULL, &local_error,
                                          "state-dir", self->state_dir,
                                          NULL);
  secret_value_unref (value);
  if (!ok)
    {
      if (local_error != NULL)
        propagate_secret_error (error, local_error, "save", self->state_dir);
      else
        g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED,
                     "Cannot save the identity key of “%s” in the Secret Service",
                     self->state_dir);
      return FALSE;
    }

  return TRUE;
}

static gboolean
companion_secret_key_store_delete_identity (CompanionKeyStore  *store,
                                            GError            **error)
{
  CompanionSecretKeyStore *self = COMPANION_SECRET_KEY_STORE (store);
  g_autoptr(GError) local_error = NULL;

  /* FALSE with no error means there was nothing to delete. */
  if (!secret_password_clear_sync (identity_schema (), NULL, &local_error,
                                   "state-dir", self->state_dir,
                                   NULL) &&
      local_error != NULL)
    {
      propagate_secret_error (error, local_error, "delete", self->state_dir);
      return FALSE;
    }

  return TRUE;
}

static const char *
companion_secret_key_store_describe (CompanionKeyStore *store)
{
  return "Secret Service";
}

static void
key_store_iface_init (CompanionKeyStoreInterface *iface)
{
  iface->load_identity = companion_secret_key_store_load_identity;
  iface->save_identity = companion_secret_key_store_save_identity;
  iface->delete_identity = companion_secret_key_store_delete_identity;
  iface->describe = companion_secret_key_store_describe;
}

static void
companion_secret_key_store_finalize (GObject *object)
{
  CompanionSecretKeyStore *self = COMPANION_SECRET_KEY_STORE (object);

  g_clear_pointer (&self->state_dir, g_free);

  G_OBJECT_CLASS (companion_secret_key_store_parent_class)->finalize (object);
}

static void
companion_secret_key_store_get_property (GObject    *object,
                                         guint       prop_id,
                                         GValue     *value,
                                         GParamSpec *pspec)
{
  CompanionSecretKeyStore *self = COMPANION_SECRET_KEY_STORE (object);

  switch (prop_id)
    {
    case PROP_STATE_DIR:
      g_value_set_string (value, self->state_dir);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_secret_key_store_set_property (GObject      *object,
                                         guint         prop_id,
                                         const GValue *value,
                                         GParamSpec   *pspec)
{
  CompanionSecretKeyStore *self = COMPANION_SECRET_KEY_STORE (object);

  switch (prop_id)
    {
    case PROP_STATE_DIR:
      /* Canonical, so that one folder always finds its one secret. */
      self->state_dir = g_canonicalize_filename (g_value_get_string (value), NULL);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_secret_key_store_class_init (CompanionSecretKeyStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_secret_key_store_finalize;
  object_class->get_property = companion_secret_key_store_get_property;
  object_class->set_property = companion_secret_key_store_set_property;

  properties[PROP_STATE_DIR] =
    g_param_spec_string ("state-dir", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
companion_secret_key_store_init (CompanionSecretKeyStore *self)
{
}

CompanionSecretKeyStore *
companion_secret_key_store_new (const char *state_dir)
{
  g_return_val_if_fail (state_dir != NULL && state_dir[0] != '\0', NULL);

  return g_object_new (COMPANION_TYPE_SECRET_KEY_STORE, "state-dir", state_dir, NULL);
}

const char *
companion_secret_key_store_get_state_dir (CompanionSecretKeyStore *self)
{
  g_return_val_if_fail (COMPANION_IS_SECRET_KEY_STORE (self), NULL);

  return self->state_dir;
}

/* Moves a key file left by an earlier fallback into the Secret Service when
 * that holds no identity (STORED is NULL), and finishes an interrupted move
 * (the same identity in both). A key file that cannot be used, or that holds
 * another identity than the Secret Service, stays where it is. */
static gboolean
migrate_key_file (CompanionKeyStore  *secret_store,
                  CompanionIdentity  *stored,
                  CompanionKeyStore  *file_store,
                  GError            **error)
{
  g_autoptr(CompanionIdentity) identity = NULL;
  g_autoptr(GError) local_error = NULL;

  identity = companion_key_store_load_identity (file_store, &local_error);
  if (identity == NULL)
    {
      if (local_error != NULL)
        g_debug ("Not moving the identity key file into the Secret Service: %s",
                 local_error->message);
      return TRUE;
    }

  if (stored == NULL)
    {
      if (!companion_key_store_save_identity (secret_store, identity, error))
        return FALSE;
    }
  else if (!companion_identity_equal (stored, identity))
    {
      g_debug ("Leaving %s alone: it holds another identity than the Secret Service",
               companion_key_store_describe (file_store));
      return TRUE;
    }

  g_debug ("Moved the identity key of %s into the Secret Service",
           companion_key_store_describe (file_store));
  return companion_key_store_delete_identity (file_store, error);
}

CompanionKeyStore *
companion_key_store_open_desktop (const char  *state_dir,
                                  gboolean    *out_is_fallback,
                                  GError     **error)
{
  g_autoptr(CompanionSecretKeyStore) secret_store = NULL;
  g_autoptr(CompanionFileKeyStore) file_store = NULL;
  g_autoptr(CompanionIdentity) probe = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (state_dir != NULL && state_dir[0] != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (out_is_fallback != NULL)
    *out_is_fallback = FALSE;

  secret_store = companion_secret_key_store_new (state_dir);
  file_store = companion_file_key_store_new (state_dir);

  probe = companion_key_store_load_identity (COMPANION_KEY_STORE (secret_store), &local_error);
  if (local_error != NULL)
    {
      if (!g_error_matches (local_error, COMPANION_KEY_STORE_ERROR,
                            COMPANION_KEY_STORE_ERROR_UNAVAILABLE))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }

      g_debug ("No Secret Service, keeping the identity key in %s: %s",
               companion_key_store_describe (COMPANION_KEY_STORE (file_store)),
               local_error->message);
      if (out_is_fallback != NULL)
        *out_is_fallback = TRUE;
      return COMPANION_KEY_STORE (g_steal_pointer (&file_store));
    }

  if (!migrate_key_file (COMPANION_KEY_STORE (secret_store), probe,
                         COMPANION_KEY_STORE (file_store), error))
    return NULL;

  return COMPANION_KEY_STORE (g_steal_pointer (&secret_store));
}
