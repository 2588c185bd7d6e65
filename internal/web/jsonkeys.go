package web

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/crieur/crieur/internal/news"
)

// exactKeys refuses an object key that names a field of target only when
// case is ignored: encoding/json matches "Title" or "URL" to the fields
// title and url, but the contract's names (and the OpenAPI document, where
// additionalProperties is false) are exact, and a client that sends
// "Title" relies on what no other implementation of the API would accept.
// It runs after a successful decode, so raw is valid JSON and keys that
// match no field at all were refused already.
func exactKeys(raw []byte, target reflect.Type) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	return walkKeys(v, target, "")
}

func walkKeys(v any, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	switch val := v.(type) {
	case map[string]any:
		if t.Kind() == reflect.Map {
			for _, x := range val {
				if err := walkKeys(x, t.Elem(), path); err != nil {
					return err
				}
			}
			return nil
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		fields := jsonFields(t)
		for k, x := range val {
			ft, ok := fields[k]
			if !ok {
				name := strings.TrimPrefix(path+"."+k, ".")
				return news.FieldError(news.CodeInvalid, name, "Unknown field %q (field names are case-sensitive).", name)
			}
			if err := walkKeys(x, ft, strings.TrimPrefix(path+"."+k, ".")); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return nil
		}
		for _, x := range val {
			if err := walkKeys(x, t.Elem(), path); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields maps the exact JSON names of a struct's fields (embedded
// structs' fields included, as encoding/json flattens them) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && tag == "" && ft.Kind() == reflect.Struct {
			for k, v := range jsonFields(ft) {
				if _, shadowed := out[k]; !shadowed {
					out[k] = v
				}
			}
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		out[tag] = f.Type
	}
	return out
}
