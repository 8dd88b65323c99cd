namespace Berth.Distribution.Tests;

public class MediaTypesTests
{
    [Theory]
    [InlineData(MediaTypes.OciManifest, true, false, true)]
    [InlineData(MediaTypes.DockerManifest, true, false, true)]
    [InlineData(MediaTypes.OciIndex, false, true, true)]
    [InlineData(MediaTypes.DockerManifestList, false, true, true)]
    [InlineData(MediaTypes.DockerSchema1, false, false, true)]
    [InlineData(MediaTypes.DockerSchema1Signed, false, false, true)]
    [InlineData(MediaTypes.OciConfig, false, false, false)]
    [InlineData(MediaTypes.DockerConfig, false, false, false)]
    [InlineData("application/json", false, false, false)]
    [InlineData("APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON", false, false, false)]
    [InlineData("", false, false, false)]
    [InlineData(null, false, false, false)]
    public void Classifies_manifest_types(string? mediaType, bool image, bool index, bool manifest)
    {
        Assert.Equal(image, MediaTypes.IsImageManifest(mediaType));
        Assert.Equal(index, MediaTypes.IsIndex(mediaType));
        Assert.Equal(manifest, MediaTypes.IsManifest(mediaType));
    }

    [Theory]
    [InlineData(MediaTypes.DockerForeignLayer, true)]
    [InlineData("application/vnd.oci.image.layer.nondistributable.v1.tar", true)]
    [InlineData("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", true)]
    [InlineData("application/vnd.oci.image.layer.v1.tar+gzip", false)]
    [InlineData("application/vnd.docker.image.rootfs.diff.tar.gzip", false)]
    [InlineData(null, false)]
    [InlineData("", false)]
    public void Classifies_foreign_layers(string? mediaType, bool foreign)
    {
        Assert.Equal(foreign, MediaTypes.IsForeignLayer(mediaType));
    }
}
