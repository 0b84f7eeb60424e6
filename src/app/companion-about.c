/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-about"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "companion-about.h"

#define METAINFO_RESOURCE APP_RESOURCE_PATH "/metainfo.xml"

/* What the window shows, as read from the metainfo. */
typedef struct
{
  GPtrArray *path;            /* element names from the root */
  GString   *text;            /* of the element being read */
  char      *name;
  char      *summary;
  char      *developer;
  char      *homepage;
  char      *bugtracker;
  char      *url_type;        /* of the <url> being read */
  char      *release_version; /* of the first <release> */
  GString   *release_notes;   /* its description, as AdwAboutWindow markup */
  gboolean   in_first_release;
  gboolean   seen_release;
} Metainfo;

static void
metainfo_clear (Metainfo *info)
{
  g_ptr_array_unref (info->path);
  g_string_free (info->text, TRUE);
  g_string_free (info->release_notes, TRUE);
  g_free (info->name);
  g_free (info->summary);
  g_free (info->developer);
  g_free (info->homepage);
  g_free (info->bugtracker);
  g_free (info->url_type);
  g_free (info->release_version);
}

static void
replace_string (char       **field,
                const char  *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static const char *
parent_element (Metainfo *info,
                guint     up)
{
  return info->path->len > up ? g_ptr_array_index (info->path, info->path->len - 1 - up) : "";
}

static void
on_start_element (GMarkupParseContext *context,
                  const char          *element,
                  const char         **names,
                  const char         **values,
                  gpointer             user_data,
                  GError             **error)
{
  Metainfo *info = user_data;

  g_string_truncate (info->text, 0);
  g_ptr_array_add (info->path, g_strdup (element));
  if (g_str_equal (element, "url"))
    {
      g_free (info->url_type);
      info->url_type = NULL;
      for (guint i = 0; names[i] != NULL; i++)
        if (g_str_equal (names[i], "type"))
          info->url_type = g_strdup (values[i]);
    }
  else if (g_str_equal (element, "release") && !info->seen_release)
    {
      info->seen_release = TRUE;
      info->in_first_release = TRUE;
      for (guint i = 0; names[i] != NULL; i++)
        if (g_str_equal (names[i], "version"))
          info->release_version = g_strdup (values[i]);
    }
  else if (info->in_first_release && g_str_equal (element, "ul"))
    g_string_append (info->release_notes, "<ul>");
}

/* Metainfo text is wrapped and indented: one space between words. */
static char *
translated_text (GString *text)
{
  g_auto(GStrv) words = g_strsplit_set (text->str, " \n\t", -1);
  g_autoptr(GString) joined = g_string_new (NULL);

  for (guint i = 0; words[i] != NULL; i++)
    if (*words[i] != '\0')
      g_string_append_printf (joined, "%s%s", joined->len > 0 ? " " : "", words[i]);
  return g_strdup (joined->len > 0 ? _(joined->str) : "");
}

static void
on_end_element (GMarkupParseContext *context,
                const char          *element,
                gpointer             user_data,
                GError             **error)
{
  Metainfo *info = user_data;
  const char *parent = parent_element (info, 1);
  g_autofree char *text = translated_text (info->text);
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  if (g_str_equal (parent, "component") && g_str_equal (element, "name"))
    replace_string (&info->name, text);
  else if (g_str_equal (parent, "component") && g_str_equal (element, "summary"))
    replace_string (&info->summary, text);
  else if (g_str_equal (parent, "developer") && g_str_equal (element, "name"))
    replace_string (&info->developer, text);
  else if (g_str_equal (element, "url") && g_strcmp0 (info->url_type, "homepage") == 0)
    replace_string (&info->homepage, text);
  else if (g_str_equal (element, "url") && g_strcmp0 (info->url_type, "bugtracker") == 0)
    replace_string (&info->bugtracker, text);
  else if (info->in_first_release && g_str_equal (element, "p"))
    g_string_append_printf (info->release_notes, "<p>%s</p>", escaped);
  else if (info->in_first_release && g_str_equal (element, "li"))
    g_string_append_printf (info->release_notes, "<li>%s</li>", escaped);
  else if (info->in_first_release && g_str_equal (element, "ul"))
    g_string_append (info->release_notes, "</ul>");
  else if (g_str_equal (element, "release"))
    info->in_first_release = FALSE;

  g_string_truncate (info->text, 0);
  g_ptr_array_remove_index (info->path, info->path->len - 1);
}

static void
on_text (GMarkupParseContext *context,
         const char          *text,
         gsize                length,
         gpointer             user_data,
         GError             **error)
{
  Metainfo *info = user_data;

  g_string_append_len (info->text, text, length);
}

GtkWindow *
companion_about_window_new (GtkWindow *parent)
{
  static const GMarkupParser parser = { on_start_element, on_end_element, on_text, NULL, NULL };
  const char *developers[] = { NULL, NULL };
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMarkupParseContext) context = NULL;
  g_autoptr(GError) error = NULL;
  Metainfo info = { 0 };
  GtkWidget *about;

  info.path = g_ptr_array_new_with_free_func (g_free);
  info.text = g_string_new (NULL);
  info.release_notes = g_string_new (NULL);
  /* The metainfo is bundled: a failure here is a broken build. */
  bytes = g_resources_lookup_data (METAINFO_RESOURCE, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  g_assert_no_error (error);
  context = g_markup_parse_context_new (&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, &info, NULL);
  if (!g_markup_parse_context_parse (context, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error) ||
      !g_markup_parse_context_end_parse (context, &error))
    g_critical ("The bundled metainfo does not parse: %s", error->message);

  developers[0] = info.developer;
  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", parent,
                        "application-icon", APP_ID,
                        "application-name", info.name,
                        "comments", info.summary,
                        "developer-name", info.developer,
                        "developers", developers,
                        "version", PACKAGE_VERSION,
                        "website", info.homepage,
                        "issue-url", info.bugtracker,
                        "release-notes-version", info.release_version,
                        "release-notes", info.release_notes->str,
                        "license-type", GTK_LICENSE_GPL_3_0,
                        /* Translators: replace with your names, one per line */
                        "translator-credits", _("translator-credits"),
                        NULL);
  metainfo_clear (&info);
  return GTK_WINDOW (about);
}
