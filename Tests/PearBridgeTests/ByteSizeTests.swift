import PearBridge
import Testing

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("524288", 524_288), ("512K", 524_288), ("512k", 524_288), ("2M", 2 << 20), ("2MiB", 2 << 20), ("2mb", 2 << 20),
        ("1G", 1 << 30), (" 16K ", 16 << 10), ("0", 0),
    ])
    func sizesAsPeopleWriteThem(_ text: String, _ bytes: Int) {
        #expect(ByteSize(text)?.bytes == bytes)
    }

    @Test(arguments: ["", "K", "-1", "1.5M", "2T", "12 M", "٣K", "99999999999999999999", "9999999999999G", "MB"])
    func anythingElseIsRefused(_ text: String) {
        #expect(ByteSize(text) == nil)
    }

    @Test func describedInTheLargestWholeUnit() {
        #expect(ByteSize(bytes: 512 * 1024).description == "512K")
        #expect(ByteSize(bytes: 3 << 30).description == "3G")
        #expect(ByteSize(bytes: 1000).description == "1000")
    }
}
