/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-state-dir"

#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-state-dir.h"

char *
companion_state_dir_ensure (const char *override_dir,
                            const char *default_subdir,
                            GError    **error)
{
  g_autofree char *dir = NULL;
  GStatBuf st;

  g_return_val_if_fail (default_subdir != NULL, NULL);

  if (override_dir != NULL && override_dir[0] != '\0')
    dir = g_canonicalize_filename (override_dir, NULL);
  else
    dir = g_build_filename (g_get_user_data_dir (), default_subdir, NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot create the state folder “%s”: %s", dir, g_strerror (saved));
      return NULL;
    }
  if (g_stat (dir, &st) != 0 || !S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   "The state folder “%s” is not a folder", dir);
      return NULL;
    }
  if ((st.st_mode & 0077) != 0 && g_chmod (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot make the state folder “%s” private: %s", dir, g_strerror (saved));
      return NULL;
    }

  return g_steal_pointer (&dir);
}

void
companion_state_dir_sync (const char *dir)
{
  int fd;

  g_return_if_fail (dir != NULL);

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  if (fsync (fd) != 0)
    g_debug ("Cannot sync the folder “%s”: %s", dir, g_strerror (errno));
  close (fd);
}
