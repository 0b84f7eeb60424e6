/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-file-key-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-file-key-store.h"
#include "companion-state-dir.h"

struct _CompanionFileKeyStore
{
  GObject  parent_instance;

  char    *state_dir;
  char    *path;
  char    *description;
};

static void key_store_iface_init (CompanionKeyStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CompanionFileKeyStore, companion_file_key_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (COMPANION_TYPE_KEY_STORE,
                                                      key_store_iface_init))

enum {
  PROP_0,
  PROP_STATE_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* "~/…" for a path in the home folder, for messages people read. */
static char *
display_path (const char *path)
{
  const char *home = g_get_home_dir ();
  gsize home_len = home != NULL ? strlen (home) : 0;

  if (home_len > 1 && g_str_has_prefix (path, home) && path[home_len] == G_DIR_SEPARATOR)
    return g_strconcat ("~", path + home_len, NULL);
  return g_strdup (path);
}

static CompanionIdentity *
companion_file_key_store_load_identity (CompanionKeyStore  *store,
                                        GError            **error)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (store);
  g_autoptr(GError) local_error = NULL;
  CompanionIdentity *identity = NULL;
  guint8 *secret = NULL;
  struct stat st;
  gssize n;
  int fd;

  /* O_NOFOLLOW refuses a symlink; O_NONBLOCK keeps a FIFO from blocking us. */
  fd = open (self->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        return NULL;
      if (saved == ELOOP)
        g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_CORRUPT,
                     "The identity key file “%s” is a symbolic link, not a regular file",
                     self->path);
      else
        g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED,
                     "Cannot open the identity key file “%s”: %s",
                     self->path, g_strerror (saved));
      return NULL;
    }

  if (fstat (fd, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED,
                   "Cannot check the identity key file “%s”: %s", self->path, g_strerror (saved));
      goto out;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_CORRUPT,
                   "The identity key file “%s” is not a regular file", self->path);
      goto out;
    }
  if (st.st_uid != geteuid ())
    {
      g_set_error (error, COMPANION_KEY_STORE_ERROR,
                   COMPANION_KEY_STORE_ERROR_INSECURE_PERMISSIONS,
                   "The identity key file “%s” belongs to another user (uid %u); "
                   "refusing to use it", self->path, (guint) st.st_uid);
      goto out;
    }
  if ((st.st_mode & 0077) != 0)
    {
      g_set_error (error, COMPANION_KEY_STORE_ERROR,
                   COMPANION_KEY_STORE_ERROR_INSECURE_PERMISSIONS,
                   "The identity key file “%s” can be accessed by other users (mode %04o); "
                   "refusing to use it (make it private with chmod 600, "
                   "or delete it and pair again)",
                   self->path, (guint) (st.st_mode & 07777));
      goto out;
    }
  if (st.st_size != COMPANION_IDENTITY_KEY_SIZE)
    {
      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_CORRUPT,
                   "The identity key file “%s” has %" G_GINT64_FORMAT " bytes instead of %d",
                   self->path, (gint64) st.st_size, COMPANION_IDENTITY_KEY_SIZE);
      goto out;
    }

  secret = sodium_malloc (COMPANION_IDENTITY_KEY_SIZE);
  g_assert (secret != NULL);
  do
    n = read (fd, secret, COMPANION_IDENTITY_KEY_SIZE);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED,
                   "Cannot read the identity key file “%s”: %s", self->path, g_strerror (saved));
      goto out;
    }
  if (n != COMPANION_IDENTITY_KEY_SIZE)
    {
      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_CORRUPT,
                   "The identity key file “%s” changed while it was read", self->path);
      goto out;
    }

  identity = companion_identity_new_from_secret (secret, &local_error);
  if (identity == NULL)
    g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_CORRUPT,
                 "The identity key file “%s” does not hold a usable key: %s",
                 self->path, local_error->message);

out:
  g_clear_pointer (&secret, sodium_free);
  close (fd);
  return identity;
}

static gboolean
companion_file_key_store_save_identity (CompanionKeyStore  *store,
                                        CompanionIdentity  *identity,
                                        GError            **error)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (store);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *dir = NULL;

  dir = companion_state_dir_ensure (self->state_dir, "companion", &local_error);
  if (dir == NULL)
    {
      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED,
                   "Cannot save the identity key file “%s”: %s", self->path, local_error->message);
      return FALSE;
    }

  /* A temporary file created 0600, synced, then renamed over the old one. */
  if (!g_file_set_contents_full (self->path,
                                 (const char *) companion_identity_get_secret_key (identity),
                                 COMPANION_IDENTITY_KEY_SIZE,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local_error))
    {
      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED,
                   "Cannot save the identity key file “%s”: %s", self->path, local_error->message);
      return FALSE;
    }
  companion_state_dir_sync (dir);

  return TRUE;
}

static gboolean
companion_file_key_store_delete_identity (CompanionKeyStore  *store,
                                          GError            **error)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (store);

  if (g_unlink (self->path) != 0 && errno != ENOENT)
    {
      int saved = errno;

      g_set_error (error, COMPANION_KEY_STORE_ERROR, COMPANION_KEY_STORE_ERROR_FAILED,
                   "Cannot delete the identity key file “%s”: %s", self->path, g_strerror (saved));
      return FALSE;
    }
  companion_state_dir_sync (self->state_dir);

  return TRUE;
}

static const char *
companion_file_key_store_describe (CompanionKeyStore *store)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (store);

  return self->description;
}

static void
key_store_iface_init (CompanionKeyStoreInterface *iface)
{
  iface->load_identity = companion_file_key_store_load_identity;
  iface->save_identity = companion_file_key_store_save_identity;
  iface->delete_identity = companion_file_key_store_delete_identity;
  iface->describe = companion_file_key_store_describe;
}

static void
companion_file_key_store_constructed (GObject *object)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (object);
  g_autofree char *shown = NULL;

  G_OBJECT_CLASS (companion_file_key_store_parent_class)->constructed (object);

  g_assert (self->state_dir != NULL);
  self->path = g_build_filename (self->state_dir, COMPANION_FILE_KEY_STORE_FILENAME, NULL);
  shown = display_path (self->path);
  self->description = g_strdup_printf ("file %s (not encrypted)", shown);
}

static void
companion_file_key_store_finalize (GObject *object)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (object);

  g_clear_pointer (&self->state_dir, g_free);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->description, g_free);

  G_OBJECT_CLASS (companion_file_key_store_parent_class)->finalize (object);
}

static void
companion_file_key_store_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (object);

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
companion_file_key_store_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  CompanionFileKeyStore *self = COMPANION_FILE_KEY_STORE (object);

  switch (prop_id)
    {
    case PROP_STATE_DIR:
      self->state_dir = g_canonicalize_filename (g_value_get_string (value), NULL);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_file_key_store_class_init (CompanionFileKeyStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = companion_file_key_store_constructed;
  object_class->finalize = companion_file_key_store_finalize;
  object_class->get_property = companion_file_key_store_get_property;
  object_class->set_property = companion_file_key_store_set_property;

  properties[PROP_STATE_DIR] =
    g_param_spec_string ("state-dir", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
companion_file_key_store_init (CompanionFileKeyStore *self)
{
}

CompanionFileKeyStore *
companion_file_key_store_new (const char *state_dir)
{
  g_return_val_if_fail (state_dir != NULL && state_dir[0] != '\0', NULL);

  return g_object_new (COMPANION_TYPE_FILE_KEY_STORE, "state-dir", state_dir, NULL);
}

const char *
companion_file_key_store_get_path (CompanionFileKeyStore *self)
{
  g_return_val_if_fail (COMPANION_IS_FILE_KEY_STORE (self), NULL);

  return self->path;
}
