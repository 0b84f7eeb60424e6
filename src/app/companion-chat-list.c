/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-chat-list"

#include "config.h"

#include "companion-chat-list.h"
#include "companion-list-splice.h"

/* Chats per read: a page is quick to read and to show. */
#define CHAT_PAGE_SIZE 200

struct _CompanionChatList
{
  GObject                parent_instance;

  CompanionMirrorReader *reader;
  GCancellable          *cancellable;
  GPtrArray             *items;       /* CompanionChatItem *, shown */
  GHashTable            *by_id;       /* chat id → CompanionChatItem * (of items) */
  GHashTable            *names;       /* contact id → name, for untitled direct chats */
  GHashTable            *unnamed;     /* contact id → GPtrArray of the items waiting for its name */
  GPtrArray             *loading;     /* CompanionChatItem *, of the load under way */
  gboolean               reload_again;
  gboolean               loaded;
};

static void companion_chat_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CompanionChatList, companion_chat_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, companion_chat_list_model_init))

enum {
  SIGNAL_LOADED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GType
companion_chat_list_get_item_type (GListModel *model)
{
  return COMPANION_TYPE_CHAT_ITEM;
}

static guint
companion_chat_list_get_n_items (GListModel *model)
{
  return COMPANION_CHAT_LIST (model)->items->len;
}

static gpointer
companion_chat_list_get_item (GListModel *model,
                              guint       position)
{
  CompanionChatList *self = COMPANION_CHAT_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
companion_chat_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = companion_chat_list_get_item_type;
  iface->get_n_items = companion_chat_list_get_n_items;
  iface->get_item = companion_chat_list_get_item;
}

static void read_page (CompanionChatList *self);

typedef struct
{
  CompanionChatList *list;
  char              *contact;
} NameRead;

static void
name_read_free (NameRead *read)
{
  g_object_unref (read->list);
  g_free (read->contact);
  g_free (read);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NameRead, name_read_free)

static void
on_contact (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NameRead) read = user_data;
  CompanionChatList *self = read->list;
  g_autoptr(JsonObject) contact = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *waiting;
  const char *name;

  contact = companion_mirror_reader_lookup_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (contact == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot read a contact: %s", error->message);
      /* Asked again by the next load, when the contact may be there. */
      g_hash_table_remove (self->unnamed, read->contact);
      return;
    }
  name = json_object_get_string_member (contact, "name");
  g_hash_table_insert (self->names, g_strdup (read->contact), g_strdup (name));
  /* Only the chats that asked: thousands of chats ask for thousands of names. */
  waiting = g_hash_table_lookup (self->unnamed, read->contact);
  for (guint i = 0; waiting != NULL && i < waiting->len; i++)
    {
      CompanionChatItem *item = g_ptr_array_index (waiting, i);
      if (g_strcmp0 (companion_chat_item_get_unnamed_contact (item), read->contact) == 0)
        companion_chat_item_set_contact_name (item, name);
    }
  g_hash_table_remove (self->unnamed, read->contact);
}

/* Direct chats without a title take their contact's name, read once. */
static void
name_item (CompanionChatList *self,
           CompanionChatItem *item)
{
  const char *contact = companion_chat_item_get_unnamed_contact (item);
  const char *name;
  GPtrArray *waiting;

  if (contact == NULL)
    return;
  name = g_hash_table_lookup (self->names, contact);
  if (name != NULL)
    {
      companion_chat_item_set_contact_name (item, name);
      return;
    }
  waiting = g_hash_table_lookup (self->unnamed, contact);
  if (waiting == NULL)
    {
      NameRead *read = g_new0 (NameRead, 1);

      read->list = g_object_ref (self);
      read->contact = g_strdup (contact);
      waiting = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_insert (self->unnamed, g_strdup (contact), waiting);
      companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_CONTACT, contact,
                                            self->cancellable, on_contact, read);
    }
  if (!g_ptr_array_find (waiting, item, NULL))
    g_ptr_array_add (waiting, g_object_ref (item));
}

static void
show_loading (CompanionChatList *self)
{
  g_hash_table_remove_all (self->by_id);
  companion_list_splice (G_LIST_MODEL (self), self->items, 0, self->loading);
  for (guint i = 0; i < self->items->len; i++)
    {
      CompanionChatItem *item = g_ptr_array_index (self->items, i);
      g_hash_table_insert (self->by_id, (gpointer) companion_chat_item_get_id (item), item);
    }
}

static void
on_page (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(CompanionChatList) self = user_data;
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(GError) error = NULL;

  chats = companion_mirror_reader_list_chats_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (chats == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot read the chat list: %s", error->message);
      g_clear_pointer (&self->loading, g_ptr_array_unref);
      return;
    }

  for (guint i = 0; i < chats->len; i++)
    {
      CompanionMirrorChat *chat = g_ptr_array_index (chats, i);
      const char *id = json_object_get_string_member (chat->record, "id");
      CompanionChatItem *item = g_hash_table_lookup (self->by_id, id);

      if (item != NULL)
        {
          companion_chat_item_update (item, chat);
          g_ptr_array_add (self->loading, g_object_ref (item));
        }
      else
        {
          item = companion_chat_item_new (chat);
          g_ptr_array_add (self->loading, item);
        }
      name_item (self, item);
    }

  /* The first load shows each page at once; a reload shows the whole
   * list when complete, so rows never disappear in between. */
  if (!self->loaded && self->items->len < self->loading->len)
    {
      g_autoptr(GPtrArray) head = g_ptr_array_new ();
      for (guint i = 0; i < self->loading->len; i++)
        g_ptr_array_add (head, g_ptr_array_index (self->loading, i));
      companion_list_splice (G_LIST_MODEL (self), self->items, 0, head);
      for (guint i = 0; i < self->items->len; i++)
        {
          CompanionChatItem *item = g_ptr_array_index (self->items, i);
          g_hash_table_insert (self->by_id, (gpointer) companion_chat_item_get_id (item), item);
        }
    }

  if (chats->len == CHAT_PAGE_SIZE)
    {
      read_page (self);
      return;
    }

  show_loading (self);
  g_clear_pointer (&self->loading, g_ptr_array_unref);
  self->loaded = TRUE;
  g_signal_emit (self, signals[SIGNAL_LOADED], 0);
  if (self->reload_again)
    {
      self->reload_again = FALSE;
      companion_chat_list_reload (self);
    }
}

static void
read_page (CompanionChatList *self)
{
  companion_mirror_reader_list_chats_async (self->reader, CHAT_PAGE_SIZE, self->loading->len,
                                            self->cancellable, on_page, g_object_ref (self));
}

static void
companion_chat_list_dispose (GObject *object)
{
  CompanionChatList *self = COMPANION_CHAT_LIST (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->reader);

  G_OBJECT_CLASS (companion_chat_list_parent_class)->dispose (object);
}

static void
companion_chat_list_finalize (GObject *object)
{
  CompanionChatList *self = COMPANION_CHAT_LIST (object);

  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->names, g_hash_table_unref);
  g_clear_pointer (&self->unnamed, g_hash_table_unref);
  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->loading, g_ptr_array_unref);

  G_OBJECT_CLASS (companion_chat_list_parent_class)->finalize (object);
}

static void
companion_chat_list_class_init (CompanionChatListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_chat_list_dispose;
  object_class->finalize = companion_chat_list_finalize;

  signals[SIGNAL_LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
companion_chat_list_init (CompanionChatList *self)
{
  self->cancellable = g_cancellable_new ();
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->unnamed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
}

CompanionChatList *
companion_chat_list_new (CompanionMirrorReader *reader)
{
  CompanionChatList *self;

  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (reader), NULL);

  self = g_object_new (COMPANION_TYPE_CHAT_LIST, NULL);
  self->reader = g_object_ref (reader);
  return self;
}

void
companion_chat_list_reload (CompanionChatList *self)
{
  g_return_if_fail (COMPANION_IS_CHAT_LIST (self));

  if (self->loading != NULL)
    {
      self->reload_again = TRUE;
      return;
    }
  self->loading = g_ptr_array_new_with_free_func (g_object_unref);
  read_page (self);
}

gboolean
companion_chat_list_is_loaded (CompanionChatList *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_LIST (self), FALSE);
  return self->loaded;
}

CompanionChatItem *
companion_chat_list_find (CompanionChatList *self,
                          const char        *chat_id)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_LIST (self), NULL);
  return g_hash_table_lookup (self->by_id, chat_id);
}
