/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-engine"

#include "config.h"

#include "companion-engine.h"
#include "companion-settings.h"

struct _CompanionEngine
{
  GObject                 parent_instance;

  CompanionDesktopServer *server;
  CompanionMirrorStore   *mirror;
  CompanionDesktopSync   *sync;
  CompanionMediaTransfer *media;
  CompanionMirrorReader  *reader;
  GSettings              *settings;
};

G_DEFINE_FINAL_TYPE (CompanionEngine, companion_engine, G_TYPE_OBJECT)

static void
on_auto_download_limit_changed (CompanionEngine *self)
{
  companion_media_transfer_set_auto_download_limit (self->media,
                                                    (guint64) g_settings_get_int64 (self->settings,
                                                                                    "auto-download-limit"));
}

static void
companion_engine_dispose (GObject *object)
{
  CompanionEngine *self = COMPANION_ENGINE (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->media);
  g_clear_object (&self->sync);
  g_clear_object (&self->reader);
  g_clear_object (&self->mirror);
  g_clear_object (&self->server);

  G_OBJECT_CLASS (companion_engine_parent_class)->dispose (object);
}

static void
companion_engine_class_init (CompanionEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_engine_dispose;
}

static void
companion_engine_init (CompanionEngine *self)
{
}

CompanionEngine *
companion_engine_new (CompanionDesktopServer *server,
                      const char             *state_dir,
                      GError                **error)
{
  g_autoptr(CompanionEngine) self = NULL;
  g_autoptr(CompanionMirrorStore) mirror = NULL;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (server), NULL);
  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  mirror = companion_mirror_store_open (state_dir, error);
  if (mirror == NULL)
    return NULL;

  self = g_object_new (COMPANION_TYPE_ENGINE, NULL);
  self->server = g_object_ref (server);
  self->mirror = g_steal_pointer (&mirror);
  self->sync = companion_desktop_sync_new (server, self->mirror);
  self->media = companion_media_transfer_new (server, self->mirror, self->sync);
  self->reader = companion_mirror_reader_new (state_dir);

  /* The preference applies at once; without the schema the default stays. */
  self->settings = companion_settings_new_if_installed ();
  if (self->settings != NULL)
    {
      g_signal_connect_object (self->settings, "changed::auto-download-limit",
                               G_CALLBACK (on_auto_download_limit_changed), self, G_CONNECT_SWAPPED);
      on_auto_download_limit_changed (self);
    }
  return g_steal_pointer (&self);
}

CompanionDesktopServer *
companion_engine_get_server (CompanionEngine *self)
{
  g_return_val_if_fail (COMPANION_IS_ENGINE (self), NULL);
  return self->server;
}

CompanionMirrorStore *
companion_engine_get_mirror (CompanionEngine *self)
{
  g_return_val_if_fail (COMPANION_IS_ENGINE (self), NULL);
  return self->mirror;
}

CompanionDesktopSync *
companion_engine_get_sync (CompanionEngine *self)
{
  g_return_val_if_fail (COMPANION_IS_ENGINE (self), NULL);
  return self->sync;
}

CompanionMediaTransfer *
companion_engine_get_media (CompanionEngine *self)
{
  g_return_val_if_fail (COMPANION_IS_ENGINE (self), NULL);
  return self->media;
}

CompanionMirrorReader *
companion_engine_get_reader (CompanionEngine *self)
{
  g_return_val_if_fail (COMPANION_IS_ENGINE (self), NULL);
  return self->reader;
}

gboolean
companion_engine_has_synced (CompanionEngine *self)
{
  g_return_val_if_fail (COMPANION_IS_ENGINE (self), FALSE);
  /* Reads two cached values of the writer's connection: no disk access. */
  return companion_mirror_store_get_cursor (self->mirror) > 0;
}
