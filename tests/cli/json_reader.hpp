// A strict little JSON reader for the tests (RFC 8259: no trailing commas, no comments, no NaN):
// enough to check that `fileaio bench --output-format=json` is JSON and has its shape.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fileaio::test {

struct json_value {
    enum class kind { null, boolean, number, string, array, object };
    kind type = kind::null;
    bool boolean = false;
    double number = 0;
    std::string text;                // string
    std::vector<json_value> items;   // array elements, or object values
    std::vector<std::string> keys;   // object keys, in order (items[i] is the value of keys[i])

    [[nodiscard]] bool is(kind k) const { return type == k; }
    // The member named key, or nullptr (also when this is not an object).
    [[nodiscard]] const json_value *find(std::string_view key) const
    {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (keys[i] == key) {
                return &items[i];
            }
        }
        return nullptr;
    }
};

class json_reader {
public:
    // The document, or nullopt with a message in error() when it is not valid JSON.
    static std::optional<json_value> parse(std::string_view text, std::string *error = nullptr)
    {
        json_reader reader(text);
        json_value value;
        if (!reader.value(value, 0) || (reader.skip_space(), reader.at_ != text.size())) {
            if (error != nullptr) {
                *error = "invalid JSON at byte " + std::to_string(reader.at_) + ": " + reader.error_;
            }
            return std::nullopt;
        }
        return value;
    }

private:
    static constexpr int max_depth = 64;

    explicit json_reader(std::string_view text) : text_(text) {}

    bool fail(const char *why)
    {
        if (error_.empty()) {
            error_ = why;
        }
        return false;
    }
    void skip_space()
    {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\r' || text_[at_] == '\t')) {
            ++at_;
        }
    }
    bool literal(std::string_view word)
    {
        if (text_.substr(at_, word.size()) != word) {
            return fail("unknown literal");
        }
        at_ += word.size();
        return true;
    }
    bool value(json_value &out, int depth)
    {
        if (depth > max_depth) {
            return fail("nested too deeply");
        }
        skip_space();
        if (at_ >= text_.size()) {
            return fail("unexpected end");
        }
        switch (text_[at_]) {
        case '{': return object(out, depth);
        case '[': return array(out, depth);
        case '"': out.type = json_value::kind::string; return string(out.text);
        case 't': out.type = json_value::kind::boolean; out.boolean = true; return literal("true");
        case 'f': out.type = json_value::kind::boolean; return literal("false");
        case 'n': out.type = json_value::kind::null; return literal("null");
        default: out.type = json_value::kind::number; return number(out.number);
        }
    }
    bool object(json_value &out, int depth)
    {
        out.type = json_value::kind::object;
        ++at_;  // {
        skip_space();
        if (at_ < text_.size() && text_[at_] == '}') {
            ++at_;
            return true;
        }
        while (true) {
            skip_space();
            std::string key;
            if (at_ >= text_.size() || text_[at_] != '"' || !string(key)) {
                return fail("expected a key");
            }
            if (out.find(key) != nullptr) {
                return fail("duplicate key");
            }
            skip_space();
            if (at_ >= text_.size() || text_[at_] != ':') {
                return fail("expected ':'");
            }
            ++at_;
            json_value member;
            if (!value(member, depth + 1)) {
                return false;
            }
            out.keys.push_back(std::move(key));
            out.items.push_back(std::move(member));
            skip_space();
            if (at_ < text_.size() && text_[at_] == ',') {
                ++at_;
                continue;
            }
            if (at_ < text_.size() && text_[at_] == '}') {
                ++at_;
                return true;
            }
            return fail("expected ',' or '}'");
        }
    }
    bool array(json_value &out, int depth)
    {
        out.type = json_value::kind::array;
        ++at_;  // [
        skip_space();
        if (at_ < text_.size() && text_[at_] == ']') {
            ++at_;
            return true;
        }
        while (true) {
            json_value item;
            if (!value(item, depth + 1)) {
                return false;
            }
            out.items.push_back(std::move(item));
            skip_space();
            if (at_ < text_.size() && text_[at_] == ',') {
                ++at_;
                continue;
            }
            if (at_ < text_.size() && text_[at_] == ']') {
                ++at_;
                return true;
            }
            return fail("expected ',' or ']'");
        }
    }
    bool string(std::string &out)
    {
        ++at_;  // "
        while (at_ < text_.size()) {
            const char c = text_[at_++];
            if (c == '"') {
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return fail("control character in a string");
            }
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (at_ >= text_.size()) {
                break;
            }
            const char e = text_[at_++];
            switch (e) {
            case '"': out.push_back('"'); break;
            case '\\': out.push_back('\\'); break;
            case '/': out.push_back('/'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                if (at_ + 4 > text_.size()) {
                    return fail("short \\u escape");
                }
                const std::string hex(text_.substr(at_, 4));
                char *end = nullptr;
                const long code = std::strtol(hex.c_str(), &end, 16);
                if (end != hex.c_str() + 4) {
                    return fail("bad \\u escape");
                }
                at_ += 4;
                out.push_back(code < 0x80 ? static_cast<char>(code) : '?');  // enough for the tests
                break;
            }
            default: return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }
    bool number(double &out)
    {
        const std::size_t start = at_;
        const auto digits = [&] {
            const std::size_t from = at_;
            while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
                ++at_;
            }
            return at_ > from;
        };
        if (at_ < text_.size() && text_[at_] == '-') {
            ++at_;
        }
        if (at_ < text_.size() && text_[at_] == '0') {
            ++at_;
        } else if (!digits()) {
            return fail("expected a value");
        }
        if (at_ < text_.size() && text_[at_] == '.') {
            ++at_;
            if (!digits()) {
                return fail("expected digits after '.'");
            }
        }
        if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
            ++at_;
            if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) {
                ++at_;
            }
            if (!digits()) {
                return fail("expected an exponent");
            }
        }
        out = std::strtod(std::string(text_.substr(start, at_ - start)).c_str(), nullptr);
        return true;
    }

    std::string_view text_;
    std::size_t at_ = 0;
    std::string error_;
};

}  // namespace fileaio::test
