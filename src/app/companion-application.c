/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-application"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-about.h"
#include "companion-application.h"
#include "companion-desktop-server.h"
#include "companion-engine.h"
#include "companion-failure-window.h"
#include "companion-frame-report.h"
#include "companion-network.h"
#include "companion-notifier.h"
#include "companion-preferences-window.h"
#include "companion-secret-key-store.h"
#include "companion-settings.h"
#include "companion-state-dir.h"
#include "companion-version.h"
#include "companion-window.h"

struct _CompanionApplication
{
  AdwApplication          parent_instance;

  char                   *state_dir;
  GInetSocketAddress     *listen_address;
  CompanionDesktopServer *server;
  CompanionEngine        *engine;
  CompanionNotifier      *notifier;
  char                   *key_store_warning;
  GError                 *start_error;
};

G_DEFINE_FINAL_TYPE (CompanionApplication, companion_application, ADW_TYPE_APPLICATION)

/* The listen port from GSettings, or the default when the schema is not
 * installed (an uninstalled build run without GSETTINGS_SCHEMA_DIR). */
static guint16
configured_port (void)
{
  g_autoptr(GSettings) settings = companion_settings_new_if_installed ();
  g_autoptr(GVariant) value = NULL;

  if (settings == NULL)
    return COMPANION_DEFAULT_PORT;
  value = g_settings_get_value (settings, "listen-port");
  return g_variant_get_uint16 (value);
}

/* Opens the keys and starts listening; a failure is shown in the window. */
static void
start_engine (CompanionApplication *self)
{
  g_autoptr(CompanionKeyStore) key_store = NULL;
  g_autoptr(CompanionDesktopServer) server = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  gboolean fallback = FALSE;

  key_store = companion_key_store_open_desktop (self->state_dir, &fallback, &error);
  if (key_store == NULL)
    {
      self->start_error = g_steal_pointer (&error);
      return;
    }
  if (fallback)
    /* Translators: %s says where the file is, e.g. "file /home/me/…/identity.key (not encrypted)" */
    self->key_store_warning = g_strdup_printf (_("No keyring is available: this computer’s key is kept in a %s"),
                                               companion_key_store_describe (key_store));

  server = companion_desktop_server_new (self->state_dir, key_store, &error);
  if (server == NULL)
    {
      self->start_error = g_steal_pointer (&error);
      return;
    }

  /* --listen is kept to exactly; a port from the settings falls back, as
   * the default does, to the last one used or a free one when taken. */
  if (self->listen_address != NULL)
    address = g_object_ref (self->listen_address);
  else if (configured_port () != COMPANION_DEFAULT_PORT)
    {
      g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (any, configured_port ()));
    }
  if (!companion_desktop_server_listen (server, address, &error))
    {
      if (self->listen_address != NULL || address == NULL)
        {
          self->start_error = g_steal_pointer (&error);
          return;
        }
      g_clear_error (&error);
      if (!companion_desktop_server_listen (server, NULL, &error))
        {
          self->start_error = g_steal_pointer (&error);
          return;
        }
    }
  /* The mirror, sync and media run from the start, paired or not. */
  self->engine = companion_engine_new (server, self->state_dir, &error);
  if (self->engine == NULL)
    {
      self->start_error = g_steal_pointer (&error);
      return;
    }
  {
    g_autoptr(GSettings) settings = companion_settings_new_if_installed ();

    self->notifier = companion_notifier_new (G_APPLICATION (self), companion_engine_get_sync (self->engine),
                                             companion_engine_get_reader (self->engine), settings);
  }
  self->server = g_steal_pointer (&server);
}

static void
companion_application_activate (GApplication *application)
{
  CompanionApplication *self = COMPANION_APPLICATION (application);
  GtkWindow *window;

  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (window != NULL)
    {
      gtk_window_present (window);
      return;
    }

  if (self->server == NULL && self->start_error == NULL)
    start_engine (self);
  if (self->server == NULL)
    {
      window = GTK_WINDOW (companion_failure_window_new (ADW_APPLICATION (self), self->start_error->message));
      gtk_window_present (window);
      return;
    }

  window = GTK_WINDOW (companion_window_new (ADW_APPLICATION (self), self->engine, self->key_store_warning));
  companion_frame_report_watch (COMPANION_WINDOW (window));
  gtk_window_present (window);
}

static int
companion_application_handle_local_options (GApplication *application,
                                            GVariantDict *options)
{
  CompanionApplication *self = COMPANION_APPLICATION (application);
  g_autoptr(GError) error = NULL;
  const char *state_dir = NULL;
  const char *listen = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("companion %s\n", COMPANION_VCS_VERSION);
      return 0;
    }

  if (g_variant_dict_lookup (options, "listen", "&s", &listen))
    {
      self->listen_address = companion_network_parse_listen_address (listen, &error);
      if (self->listen_address == NULL)
        {
          g_printerr ("companion: %s\n", error->message);
          return 1;
        }
    }

  g_variant_dict_lookup (options, "state-dir", "^&ay", &state_dir);
  self->state_dir = companion_state_dir_ensure (state_dir, "companion", &error);
  if (self->state_dir == NULL)
    {
      g_printerr ("companion: %s\n", error->message);
      return 1;
    }

  /* Each state folder is its own instance, so tests can run several. */
  if (state_dir != NULL)
    g_application_set_flags (application,
                             g_application_get_flags (application) | G_APPLICATION_NON_UNIQUE);

  return -1;
}

static void
on_quit (GSimpleAction *action,
         GVariant      *parameter,
         gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
on_about (GSimpleAction *action,
          GVariant      *parameter,
          gpointer       user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  gtk_window_present (companion_about_window_new (parent));
}

static void
on_preferences (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  CompanionApplication *self = COMPANION_APPLICATION (user_data);
  g_autoptr(GSettings) settings = companion_settings_new_if_installed ();
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  CompanionPreferencesWindow *preferences;

  /* Without the schema or the engine there is nothing to edit. */
  if (settings == NULL || self->server == NULL)
    return;
  preferences = companion_preferences_window_new (parent, settings, self->server, self->state_dir);
  gtk_window_present (GTK_WINDOW (preferences));
}

/* The main window, opened if needed: notifications activate the app
 * without a window when it was closed. */
static CompanionWindow *
present_main_window (CompanionApplication *self)
{
  GtkWindow *window;

  g_application_activate (G_APPLICATION (self));
  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  return COMPANION_IS_WINDOW (window) ? COMPANION_WINDOW (window) : NULL;
}

static void
on_open_chat (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  CompanionWindow *window = present_main_window (user_data);

  if (window != NULL)
    {
      companion_window_show_sidebar_view (window, "chats");
      companion_window_open_chat_id (window, g_variant_get_string (parameter, NULL), NULL);
    }
}

static void
on_show_calls (GSimpleAction *action,
               GVariant      *parameter,
               gpointer       user_data)
{
  CompanionWindow *window = present_main_window (user_data);

  if (window != NULL)
    companion_window_show_sidebar_view (window, "calls");
}

/* Searches every chat for the text given, from outside the window (a
 * desktop search, or a script). */
static void
on_search (GSimpleAction *action,
           GVariant      *parameter,
           gpointer       user_data)
{
  CompanionWindow *window = present_main_window (user_data);

  if (window != NULL)
    companion_window_search (window, g_variant_get_string (parameter, NULL));
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = on_quit },
  { .name = "about", .activate = on_about },
  { .name = "preferences", .activate = on_preferences },
  { .name = "open-chat", .activate = on_open_chat, .parameter_type = "s" },
  { .name = "show-calls", .activate = on_show_calls },
  { .name = "search", .activate = on_search, .parameter_type = "s" },
};

/* Accelerators, action first; the shortcuts window (gtk/help-overlay.ui)
 * lists the same. */
static const struct {
  const char *action;
  const char *accels[2];
} app_accels[] = {
  { "app.quit", { "<Control>q", NULL } },
  { "app.preferences", { "<Control>comma", NULL } },
  { "window.close", { "<Control>w", NULL } },
  { "win.search", { "<Control>f", NULL } },
};

static void
companion_application_startup (GApplication *application)
{
  G_APPLICATION_CLASS (companion_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (application), app_actions,
                                   G_N_ELEMENTS (app_actions), application);
  for (guint i = 0; i < G_N_ELEMENTS (app_accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (application), app_accels[i].action,
                                           app_accels[i].accels);
}

static void
companion_application_finalize (GObject *object)
{
  CompanionApplication *self = COMPANION_APPLICATION (object);

  g_clear_pointer (&self->state_dir, g_free);
  g_clear_pointer (&self->key_store_warning, g_free);
  g_clear_error (&self->start_error);
  g_clear_object (&self->listen_address);
  g_clear_object (&self->notifier);
  g_clear_object (&self->engine);
  g_clear_object (&self->server);

  G_OBJECT_CLASS (companion_application_parent_class)->finalize (object);
}

static void
companion_application_class_init (CompanionApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = companion_application_finalize;
  application_class->activate = companion_application_activate;
  application_class->startup = companion_application_startup;
  application_class->handle_local_options = companion_application_handle_local_options;
}

static void
companion_application_init (CompanionApplication *self)
{
  const GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, NULL, N_("Keep state in DIR, as a separate instance"), N_("DIR") },
    { "listen", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Listen at ADDR:PORT"), N_("ADDR:PORT") },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Show the version"), NULL },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
}

CompanionApplication *
companion_application_new (void)
{
  return g_object_new (COMPANION_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "resource-base-path", APP_RESOURCE_PATH,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       NULL);
}
