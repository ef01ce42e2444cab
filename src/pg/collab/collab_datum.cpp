#include "pg/collab/collab_datum.hpp"

extern "C" {
#include "access/detoast.h"
#include "utils/jsonb.h"
}

namespace coord::pg {

std::string jsonb_text(Datum value) {
    char* text = pg_call([&] {
        Jsonb* jb = DatumGetJsonbP(value);
        return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
    });
    std::string out(text);
    pg_call([&] {
        pfree(text);
        return 0;
    });
    return out;
}

Datum jsonb_datum(const std::string& text) {
    return pg_call([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(text.c_str())); });
}

std::size_t varlena_bytes(Datum value) {
    return pg_call([&] { return toast_raw_datum_size(value); }) - VARHDRSZ;
}

}  // namespace coord::pg
