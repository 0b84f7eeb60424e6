/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-name-cache"

#include "config.h"

#include "companion-name-cache.h"
#include "companion-record.h"

struct _CompanionNameCache
{
  GObject                parent_instance;

  CompanionMirrorReader *reader;
  GHashTable            *chats;     /* id → JsonObject */
  GHashTable            *contacts;  /* id → JsonObject, or NULL when missing */
};

G_DEFINE_FINAL_TYPE (CompanionNameCache, companion_name_cache, G_TYPE_OBJECT)

/* The lookups still to do for one resolve, chats first. */
typedef struct
{
  GPtrArray *chat_ids;
  GPtrArray *contact_ids;
  guint      next_chat;
  guint      next_contact;
} Resolve;

static void
resolve_free (Resolve *resolve)
{
  g_ptr_array_unref (resolve->chat_ids);
  g_ptr_array_unref (resolve->contact_ids);
  g_free (resolve);
}

/* Missing contacts are kept as NULL, so they are not asked for again. */
static void
unref_record (gpointer record)
{
  if (record != NULL)
    json_object_unref (record);
}

static void
add_unknown (GPtrArray  *list,
             GHashTable *known,
             const char *id)
{
  if (id == NULL || g_hash_table_contains (known, id))
    return;
  for (guint i = 0; i < list->len; i++)
    if (g_str_equal (g_ptr_array_index (list, i), id))
      return;
  g_ptr_array_add (list, g_strdup (id));
}

static void resolve_next (GTask *task);

static void
on_looked_up (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CompanionNameCache *self = g_task_get_source_object (task);
  Resolve *resolve = g_task_get_task_data (task);
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(GError) error = NULL;
  gboolean chat = resolve->next_chat < resolve->chat_ids->len;

  record = companion_mirror_reader_lookup_finish (self->reader, result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (chat)
    {
      const char *id = g_ptr_array_index (resolve->chat_ids, resolve->next_chat++);

      if (record == NULL)
        {
          resolve_next (g_steal_pointer (&task));
          return;
        }
      /* A direct chat without a title is named after its contact. */
      if (g_str_equal (json_object_get_string_member (record, "kind"), "direct"))
        add_unknown (resolve->contact_ids, self->contacts,
                     json_array_get_string_element (json_object_get_array_member (record, "participants"), 0));
      g_hash_table_replace (self->chats, g_strdup (id), g_steal_pointer (&record));
    }
  else
    g_hash_table_replace (self->contacts,
                          g_strdup (g_ptr_array_index (resolve->contact_ids, resolve->next_contact++)),
                          g_steal_pointer (&record));
  resolve_next (g_steal_pointer (&task));
}

static void
resolve_next (GTask *task)
{
  CompanionNameCache *self = g_task_get_source_object (task);
  Resolve *resolve = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (resolve->next_chat < resolve->chat_ids->len)
    companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_CHAT,
                                          g_ptr_array_index (resolve->chat_ids, resolve->next_chat),
                                          cancellable, on_looked_up, task);
  else if (resolve->next_contact < resolve->contact_ids->len)
    companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_CONTACT,
                                          g_ptr_array_index (resolve->contact_ids, resolve->next_contact),
                                          cancellable, on_looked_up, task);
  else
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static void
companion_name_cache_dispose (GObject *object)
{
  CompanionNameCache *self = COMPANION_NAME_CACHE (object);

  g_clear_object (&self->reader);

  G_OBJECT_CLASS (companion_name_cache_parent_class)->dispose (object);
}

static void
companion_name_cache_finalize (GObject *object)
{
  CompanionNameCache *self = COMPANION_NAME_CACHE (object);

  g_clear_pointer (&self->chats, g_hash_table_unref);
  g_clear_pointer (&self->contacts, g_hash_table_unref);

  G_OBJECT_CLASS (companion_name_cache_parent_class)->finalize (object);
}

static void
companion_name_cache_class_init (CompanionNameCacheClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_name_cache_dispose;
  object_class->finalize = companion_name_cache_finalize;
}

static void
companion_name_cache_init (CompanionNameCache *self)
{
  self->chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_object_unref);
  self->contacts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, unref_record);
}

CompanionNameCache *
companion_name_cache_new (CompanionMirrorReader *reader)
{
  CompanionNameCache *self;

  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (reader), NULL);

  self = g_object_new (COMPANION_TYPE_NAME_CACHE, NULL);
  self->reader = g_object_ref (reader);
  return self;
}

void
companion_name_cache_resolve_async (CompanionNameCache *self,
                                    const char * const *chat_ids,
                                    const char * const *contact_ids,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  GTask *task;
  Resolve *resolve;

  g_return_if_fail (COMPANION_IS_NAME_CACHE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, companion_name_cache_resolve_async);
  resolve = g_new0 (Resolve, 1);
  resolve->chat_ids = g_ptr_array_new_with_free_func (g_free);
  resolve->contact_ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; chat_ids != NULL && chat_ids[i] != NULL; i++)
    add_unknown (resolve->chat_ids, self->chats, chat_ids[i]);
  for (guint i = 0; contact_ids != NULL && contact_ids[i] != NULL; i++)
    add_unknown (resolve->contact_ids, self->contacts, contact_ids[i]);
  g_task_set_task_data (task, resolve, (GDestroyNotify) resolve_free);
  resolve_next (task);
}

gboolean
companion_name_cache_resolve_finish (CompanionNameCache *self,
                                     GAsyncResult       *result,
                                     GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

const char *
companion_name_cache_get_contact_name (CompanionNameCache *self,
                                       const char         *id)
{
  JsonObject *contact;

  g_return_val_if_fail (COMPANION_IS_NAME_CACHE (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  contact = g_hash_table_lookup (self->contacts, id);
  return contact != NULL ? json_object_get_string_member (contact, "name") : id;
}

JsonObject *
companion_name_cache_get_chat (CompanionNameCache *self,
                               const char         *id)
{
  g_return_val_if_fail (COMPANION_IS_NAME_CACHE (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  return g_hash_table_lookup (self->chats, id);
}

const char *
companion_name_cache_get_chat_title (CompanionNameCache *self,
                                     const char         *id)
{
  JsonObject *chat;
  const char *title;

  g_return_val_if_fail (COMPANION_IS_NAME_CACHE (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  chat = g_hash_table_lookup (self->chats, id);
  if (chat == NULL)
    return id;
  title = json_object_get_string_member (chat, "title");
  if (*title == '\0' && g_str_equal (json_object_get_string_member (chat, "kind"), "direct"))
    return companion_name_cache_get_contact_name (
      self, json_array_get_string_element (json_object_get_array_member (chat, "participants"), 0));
  return title;
}

void
companion_name_cache_forget_changed (CompanionNameCache *self,
                                     GPtrArray          *changes)
{
  g_return_if_fail (COMPANION_IS_NAME_CACHE (self));

  for (guint i = 0; i < changes->len; i++)
    {
      CompanionChange *change = g_ptr_array_index (changes, i);

      if (change->entity == COMPANION_ENTITY_CHAT)
        g_hash_table_remove (self->chats, change->id);
      else if (change->entity == COMPANION_ENTITY_CONTACT)
        g_hash_table_remove (self->contacts, change->id);
    }
}
